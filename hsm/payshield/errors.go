package payshield

import (
	"errors"

	"github.com/cardswitch/cardswitch/hsm"
)

// Sentinel errors of the client and the simulator. HSM error codes become
// *Error values that unwrap to one of these or to an hsm sentinel.
var (
	// ErrClosed means the client was closed.
	ErrClosed = errors.New("payshield: client closed")
	// ErrTimeout means a command got no reply before its deadline. The
	// command may have been executed: treat it as unknown, never as "not sent".
	ErrTimeout = errors.New("payshield: command timed out")
	// ErrConnBroken means the connection failed while the command was in
	// flight (after one transparent retry on a fresh connection).
	ErrConnBroken = errors.New("payshield: connection broken")
	// ErrProtocol means a reply did not follow the host-command format.
	ErrProtocol = errors.New("payshield: protocol error")
	// ErrFrameTooLarge means a message is longer than the configured maximum.
	ErrFrameTooLarge = errors.New("payshield: message too large")
	// ErrUnsupported means a request cannot be expressed as a host command
	// (a MAC algorithm or length, key type or format the commands lack).
	ErrUnsupported = errors.New("payshield: not expressible as a host command")
	// ErrInvalidInput is HSM error 15: the HSM rejected the request's fields.
	ErrInvalidInput = errors.New("payshield: invalid input data (HSM error 15)")
	// ErrCommandDisabled is HSM error 68: the command is disabled or unknown.
	ErrCommandDisabled = errors.New("payshield: command disabled (HSM error 68)")
	// ErrVerification is HSM error 01 on a command that is neither a PIN
	// nor a MAC verification.
	ErrVerification = errors.New("payshield: verification failure (HSM error 01)")
	// ErrHSM is any other HSM error code.
	ErrHSM = errors.New("payshield: HSM error")
)

// Error is a non-zero error code in a host-command reply. It unwraps to the
// code's meaning: "01" on a PIN command is hsm.ErrPINMismatch and on a MAC
// command hsm.ErrMACMismatch, "10"/"11" hsm.ErrKeyParity, "15"
// ErrInvalidInput, and so on (see Unwrap), so callers test errors.Is the
// same way as with hsm.Soft.
type Error struct {
	Command string // the request's command code, e.g. "DC"
	Code    string // the 2-character error code, e.g. "01"
}

// Error returns e.g. "payshield: DC error 01: hsm: PIN verification failed".
func (e *Error) Error() string {
	return "payshield: " + e.Command + " error " + e.Code + ": " + e.Unwrap().Error()
}

// Unwrap returns the sentinel for the code in the context of the command.
func (e *Error) Unwrap() error {
	if e.Code == "01" {
		switch e.Command {
		case "DA", "EA", "DC", "EC", "CK":
			return hsm.ErrPINMismatch
		case "M8", "MC":
			return hsm.ErrMACMismatch
		case "KQ":
			return hsm.ErrARQCMismatch
		}
		return ErrVerification
	}
	if e.Command == "KQ" {
		switch e.Code {
		case "04":
			return ErrHSM // invalid mode flag
		case "05":
			return hsm.ErrCVN // unrecognised scheme ID
		case "80", "81":
			return hsm.ErrEMVData // transaction data length error, zero length
		}
	}
	if err, ok := codeSentinels[e.Code]; ok {
		return err
	}
	return ErrHSM
}

// codeSentinels maps payShield error codes (other than 01) to meanings.
var codeSentinels = map[string]error{
	"04": hsm.ErrKeyType,        // invalid key type code
	"05": hsm.ErrKeyLength,      // invalid key length flag
	"10": hsm.ErrKeyParity,      // source key parity error
	"11": hsm.ErrKeyParity,      // destination key parity error
	"15": ErrInvalidInput,       // invalid input data
	"20": hsm.ErrPINBlockFormat, // PIN block does not contain valid values
	"23": hsm.ErrPINBlockFormat, // invalid PIN block format code
	"24": hsm.ErrPINLength,      // PIN fewer than 4 or more than 12 digits
	"26": hsm.ErrKeyScheme,      // invalid key scheme
	"27": hsm.ErrKeyLength,      // incompatible key length
	"68": ErrCommandDisabled,    // command disabled
}

// codeFor is the simulator's side: the error code for a failure.
func codeFor(err error) string {
	var ce codedError
	switch {
	case err == nil:
		return "00"
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, hsm.ErrPINMismatch), errors.Is(err, hsm.ErrMACMismatch):
		return "01"
	case errors.Is(err, hsm.ErrKeyType):
		return "04"
	case errors.Is(err, hsm.ErrKeyParity):
		return "10"
	case errors.Is(err, hsm.ErrPINBlockFormat), errors.Is(err, hsm.ErrPINBlockFill):
		return "20"
	case errors.Is(err, hsm.ErrPINLength), errors.Is(err, hsm.ErrPINDigits):
		return "24"
	case errors.Is(err, hsm.ErrKeyScheme):
		return "26"
	case errors.Is(err, hsm.ErrKeyLength), errors.Is(err, hsm.ErrKeyAlgorithm):
		return "27"
	}
	return "15"
}

// codedError forces a specific code (a destination key's parity is 11).
type codedError struct {
	code string
	err  error
}

func (e codedError) Error() string { return "payshield: error " + e.code + ": " + e.err.Error() }
func (e codedError) Unwrap() error { return e.err }
