package wire

// MaxBodyDepth is maxBodyDepth, for the tests of DecodePush.
const MaxBodyDepth = maxBodyDepth
