package sim

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// LatencyKind is the shape of a latency distribution.
type LatencyKind uint8

const (
	LatencyNone LatencyKind = iota
	LatencyFixed
	LatencyUniform
	LatencyNormal
	LatencyLogNormal
)

// Latency is a distribution of answer delays. The zero value is none.
type Latency struct {
	Kind LatencyKind
	// Fixed: A. Uniform: A to B. Normal, LogNormal: mean A, 99th
	// percentile B.
	A, B time.Duration

	mu, sigma float64 // normal: in ns; lognormal: of ln(ns)
}

// z99 is the standard normal's 99th percentile.
const z99 = 2.3263478740408408

// ParseLatency reads a latency spec:
//
//	""  or "0"                      none: answer at once
//	"2ms"                           fixed
//	"uniform 1ms 5ms"               uniform from 1ms to 5ms
//	"normal mean=2ms p99=5ms"       normal, cut at 0
//	"lognormal mean=2ms p99=20ms"   log-normal with that mean and 99th percentile
//
// Every delay is at most 10 minutes.
func ParseLatency(s string) (Latency, error) {
	f := strings.Fields(s)
	bad := func(why string) (Latency, error) {
		return Latency{}, fmt.Errorf("sim: latency %q: %s (say 2ms, \"uniform 1ms 5ms\", \"normal mean=2ms p99=5ms\" or \"lognormal mean=2ms p99=20ms\")", s, why)
	}
	dur := func(t string) (time.Duration, error) {
		d, err := time.ParseDuration(t)
		if err != nil || d < 0 || d > delayMax {
			return 0, fmt.Errorf("%q is not a duration from 0 to %v", t, delayMax)
		}
		return d, nil
	}
	switch {
	case len(f) == 0 || (len(f) == 1 && f[0] == "0"):
		return Latency{}, nil
	case len(f) == 1:
		d, err := dur(f[0])
		if err != nil {
			return bad(err.Error())
		}
		return Latency{Kind: LatencyFixed, A: d}, nil
	case f[0] == "uniform" && len(f) == 3:
		a, err := dur(f[1])
		if err != nil {
			return bad(err.Error())
		}
		b, err := dur(f[2])
		if err != nil {
			return bad(err.Error())
		}
		if b < a {
			return bad("the maximum is below the minimum")
		}
		return Latency{Kind: LatencyUniform, A: a, B: b}, nil
	case (f[0] == "normal" || f[0] == "lognormal") && len(f) == 3:
		mean, ok1 := strings.CutPrefix(f[1], "mean=")
		p99, ok2 := strings.CutPrefix(f[2], "p99=")
		if !ok1 || !ok2 {
			return bad("want mean=D p99=D")
		}
		a, err := dur(mean)
		if err != nil {
			return bad(err.Error())
		}
		b, err := dur(p99)
		if err != nil {
			return bad(err.Error())
		}
		l := Latency{Kind: LatencyNormal, A: a, B: b}
		if f[0] == "lognormal" {
			l.Kind = LatencyLogNormal
		}
		if err := l.fit(); err != nil {
			return bad(err.Error())
		}
		return l, nil
	}
	return bad("not a latency")
}

// fit derives the distribution's parameters from its mean and p99.
func (l *Latency) fit() error {
	mean, p99 := float64(l.A), float64(l.B)
	if l.B <= l.A || l.A <= 0 {
		return errors.New("p99 must be above the mean, and the mean above 0")
	}
	if l.Kind == LatencyNormal {
		l.mu, l.sigma = mean, (p99-mean)/z99
		return nil
	}
	// ln X ~ N(mu, s): mean = e^(mu + s²/2), p99 = e^(mu + z s), so
	// s²/2 - z s + ln(p99/mean) = 0; the smaller root is the usual shape.
	r := math.Log(p99 / mean)
	disc := z99*z99 - 2*r
	if disc < 0 {
		return fmt.Errorf("a log-normal cannot have a p99 more than %.1f times its mean", math.Exp(z99*z99/2))
	}
	l.sigma = z99 - math.Sqrt(disc)
	l.mu = math.Log(mean) - l.sigma*l.sigma/2
	return nil
}

// String is the spec ParseLatency reads back.
func (l Latency) String() string {
	switch l.Kind {
	case LatencyFixed:
		return l.A.String()
	case LatencyUniform:
		return "uniform " + l.A.String() + " " + l.B.String()
	case LatencyNormal:
		return "normal mean=" + l.A.String() + " p99=" + l.B.String()
	case LatencyLogNormal:
		return "lognormal mean=" + l.A.String() + " p99=" + l.B.String()
	}
	return "0"
}

// sample is the delay for one request: a pure function of the seed and
// the request's identity, at most delayMax.
func (l *Latency) sample(seed, id uint64) time.Duration {
	var ns float64
	switch l.Kind {
	case LatencyNone:
		return 0
	case LatencyFixed:
		return l.A
	case LatencyUniform:
		ns = float64(l.A) + unit(draw(seed, saltLatency, id))*float64(l.B-l.A)
	case LatencyNormal:
		ns = l.mu + l.sigma*normal(draw(seed, saltLatency, id))
	case LatencyLogNormal:
		ns = math.Exp(l.mu + l.sigma*normal(draw(seed, saltLatency, id)))
	}
	if ns <= 0 {
		return 0
	}
	return min(time.Duration(ns), delayMax)
}

// normal turns a uniform draw into a standard normal one (inverse CDF).
func normal(x uint64) float64 {
	return math.Sqrt2 * math.Erfinv(2*unit(x)-1)
}
