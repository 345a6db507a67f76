package sim

import "github.com/cardswitch/cardswitch/codec"

// Draws are hashes, not a random stream: a request's draw for a rule is
// mix(seed, salt, identity), where identity hashes the fields that make the
// request itself (MTI, PAN, processing code, amount, transmission time,
// STAN, local time and date, RRN, terminal, merchant). So the same seed and
// the same requests give the same decisions whatever the interleaving of
// connections or the timing, which a shared random stream could not; and a
// repeated request (the same bytes again) gets the same answer, as from a
// real host.

// Salts keep the draws of different purposes independent.
const (
	saltRules    = 1 << 32 // + rule index
	saltInjected = 2 << 32 // + injected rule index
	saltLatency  = 3 << 32
	saltApproval = 5 << 32
)

// identityFields are hashed into a request's identity.
var identityFields = [...]int{2, 3, 4, 7, 11, 12, 13, 37, 41, 42}

// identity hashes the request's MTI and identity fields (FNV-1a, 64 bits).
func identity(v *codec.View) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	m := v.MTI()
	for _, c := range m {
		h = (h ^ uint64(c)) * prime
	}
	for _, id := range identityFields {
		h = (h ^ uint64(id)) * prime
		for _, c := range v.Wire(id) { // nil when absent
			h = (h ^ uint64(c)) * prime
		}
	}
	return h
}

// draw mixes seed, salt and a request's identity into 64 uniform bits
// (splitmix64's finalizer over each input in turn).
func draw(seed, salt, id uint64) uint64 {
	x := mix(seed ^ 0x9e3779b97f4a7c15)
	x = mix(x ^ salt)
	return mix(x ^ id)
}

func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// unit is a draw as a number strictly between 0 and 1.
func unit(x uint64) float64 {
	return (float64(x>>11) + 0.5) / (1 << 53)
}
