// Shared set-up for the JavaScript compat checks: the target comes from
// COMPAT_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION;
// for HTTPS the runner sets NODE_EXTRA_CA_CERTS to COMPAT_CA before Node
// starts, because Node reads it only at start-up.
export const endpoint = must('COMPAT_ENDPOINT')
export const region = process.env.AWS_REGION || 'us-east-1'
export const credentials = {
  accessKeyId: must('AWS_ACCESS_KEY_ID'),
  secretAccessKey: must('AWS_SECRET_ACCESS_KEY'),
}
// clientConfig is passed to every KMS client so that none can fall back to
// the real AWS endpoint; maxAttempts 1 keeps failures quick and visible.
export const clientConfig = { endpoint, region, credentials, maxAttempts: 1 }

function must (name) {
  const v = process.env[name]
  if (!v) {
    console.log(`FAIL js: ${name} is not set`)
    process.exit(1)
  }
  return v
}

// checker returns a function that runs one named check and prints one
// PASS or FAIL line for it; it never throws.
export function checker (client) {
  let failed = 0
  const check = async (what, fn) => {
    try {
      await fn()
      console.log(`PASS ${client}: ${what}`)
    } catch (e) {
      failed++
      const msg = `${e && e.name ? e.name + ': ' : ''}${e && e.message ? e.message : e}`
      console.log(`FAIL ${client}: ${what}: ${msg.replace(/\s+/g, ' ').slice(0, 300)}`)
    }
  }
  check.failed = () => failed
  return check
}

export function assert (cond, msg) {
  if (!cond) throw new Error(msg)
}

// expectError runs fn and requires it to fail with the named AWS exception.
export async function expectError (fn, name) {
  let res
  try {
    res = await fn()
  } catch (e) {
    assert(e.name === name, `got ${e.name} (${e.message}), want ${name}`)
    return e
  }
  throw new Error(`call succeeded (${JSON.stringify(res && res.$metadata)}), want ${name}`)
}
