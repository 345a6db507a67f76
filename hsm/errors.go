package hsm

import "errors"

// Sentinel errors. Every failure the package reports is one of these, or
// wraps one, so callers can test with errors.Is and map them to a response
// code at the edge. None of them carries key or PIN material.
var (
	// ErrKeyLength means a key has a length its algorithm does not allow.
	ErrKeyLength = errors.New("hsm: invalid key length")
	// ErrKeyParity means a DES key byte does not have odd parity.
	ErrKeyParity = errors.New("hsm: key does not have odd parity")
	// ErrKeyAlgorithm means a key of the wrong algorithm was given.
	ErrKeyAlgorithm = errors.New("hsm: key algorithm not allowed here")
	// ErrKeyInvalid means a zero Key value was used.
	ErrKeyInvalid = errors.New("hsm: key is not initialised")
	// ErrHex means a hex string is malformed or has the wrong length.
	ErrHex = errors.New("hsm: invalid hex")

	// ErrPINLength means a PIN is not 4 to 12 digits.
	ErrPINLength = errors.New("hsm: PIN length must be 4 to 12")
	// ErrPINDigits means a PIN holds a character other than 0-9.
	ErrPINDigits = errors.New("hsm: PIN holds a non-digit")
	// ErrPINBlockFormat means a PIN block format is unknown or its control nibble is wrong.
	ErrPINBlockFormat = errors.New("hsm: invalid PIN block format")
	// ErrPINBlockLength means a PIN block has the wrong number of bytes.
	ErrPINBlockLength = errors.New("hsm: invalid PIN block length")
	// ErrPINBlockFill means the fill nibbles of a PIN block are not valid for its format.
	ErrPINBlockFill = errors.New("hsm: invalid PIN block fill")
	// ErrPAN means a PAN is not 1 to 19 digits, or too short for the format.
	ErrPAN = errors.New("hsm: invalid PAN")
	// ErrRandom means the random source failed.
	ErrRandom = errors.New("hsm: random source failed")
	// ErrPINMismatch means a PIN did not verify.
	ErrPINMismatch = errors.New("hsm: PIN verification failed")
	// ErrPINParams means PVV or IBM 3624 parameters are malformed
	// (PVKI, decimalisation table, validation data, offset).
	ErrPINParams = errors.New("hsm: invalid PIN verification parameters")

	// ErrMACLength means a MAC to verify is shorter than 4 bytes or longer than the cipher block.
	ErrMACLength = errors.New("hsm: invalid MAC length")
	// ErrMACMismatch means a MAC did not verify.
	ErrMACMismatch = errors.New("hsm: MAC verification failed")
	// ErrMACAlgorithm means the MAC algorithm or padding method is unknown or not allowed with the key.
	ErrMACAlgorithm = errors.New("hsm: invalid MAC algorithm or padding")
	// ErrMACInput means the data to MAC is empty where the algorithm needs data, or too long.
	ErrMACInput = errors.New("hsm: invalid MAC input")

	// ErrKSN means a key serial number has the wrong length or an invalid counter.
	ErrKSN = errors.New("hsm: invalid KSN")
	// ErrDUKPTUsage means a DUKPT variant, key usage or derived key type is unknown.
	ErrDUKPTUsage = errors.New("hsm: invalid DUKPT key usage")

	// ErrKeyBlock means a TR-31 key block is malformed.
	ErrKeyBlock = errors.New("hsm: malformed TR-31 key block")
	// ErrKeyBlockVersion means a TR-31 version is not supported or does not fit the KBPK.
	ErrKeyBlockVersion = errors.New("hsm: unsupported TR-31 key block version")
	// ErrKeyBlockMAC means a TR-31 key block failed its integrity check.
	ErrKeyBlockMAC = errors.New("hsm: TR-31 key block MAC mismatch")

	// ErrARQCMismatch means an application cryptogram (ARQC, TC or AAC) did not verify.
	ErrARQCMismatch = errors.New("hsm: ARQC verification failed")
	// ErrCVN means a cryptogram version is unknown, or not one the HSM
	// (or the host command) can verify.
	ErrCVN = errors.New("hsm: unsupported cryptogram version")
	// ErrEMVData means EMV data does not fit the cryptogram version: issuer
	// application data of the wrong length or naming another version, a
	// PAN sequence number that is not BCD, ARPC data of the wrong size.
	ErrEMVData = errors.New("hsm: invalid EMV data")

	// ErrKeyType means a Thales key type code is unknown.
	ErrKeyType = errors.New("hsm: invalid LMK key type")
	// ErrKeyScheme means a Thales key scheme tag is unknown or does not fit the key length.
	ErrKeyScheme = errors.New("hsm: invalid key scheme")
	// ErrLMK means an LMK set is malformed.
	ErrLMK = errors.New("hsm: invalid LMK")
)
