package sim

import (
	"fmt"
	"io"
	"sort"
	"sync/atomic"
)

// counters are the issuer's, updated by every connection at once.
type counters struct {
	conns, refused             atomic.Uint64
	received                   atomic.Uint64 // requests and advices, 0800s included
	netMgmt                    atomic.Uint64
	formatErrors               atomic.Uint64
	macFailures                atomic.Uint64
	ignored                    atomic.Uint64 // responses and notifications: nothing to answer
	buildErrors                atomic.Uint64 // replies answered 96 because the reply could not be built
	echoesSent                 atomic.Uint64
	echoesAnswered             atomic.Uint64            // 0810s to the echo tests sent, 39 = 00
	dialled                    atomic.Uint64            // connections Dial made
	netAnswered                atomic.Uint64            // 0810s to its own sign-ons and sign-offs, 39 = 00
	pinChecks                  atomic.Uint64            // PIN blocks decrypted under the ZPK
	pinFailures                atomic.Uint64            // of which wrong or undecodable: 55
	keyChanges                 [codeCount]atomic.Uint64 // the peer's key changes, by the answer
	reversals, reversalRepeats atomic.Uint64            // 0420s and 0421s read; 0421s
	advices, adviceRepeats     atomic.Uint64            // 0120, 0121, 0220, 0221 read; 0121s and 0221s
	duplicates                 atomic.Uint64            // advices and reversals whose key was applied already
	ledgerFull                 atomic.Uint64            // advices and reversals not booked: the ledger was full
	answered                   [codeCount]atomic.Uint64
	faults                     [faultCount]atomic.Uint64
}

// Stats are the issuer's counters at one moment.
type Stats struct {
	Connections uint64 // accepted
	Refused     uint64 // closed at accept: the issuer was full or closing
	Received    uint64 // requests and advices read, network management included
	// Answered counts the requests answered, by response code: a request
	// answered twice (the twice fault) counts once here; one whose reply
	// was still waiting when its connection closed is not counted.
	Answered          map[string]uint64
	Faults            map[string]uint64 // injected, by fault name
	NetworkManagement uint64            // 0800s read
	FormatErrors      uint64            // answered 30: a field did not decode or a mandatory one is missing
	MACFailures       uint64            // requests whose MAC was missing or wrong
	Ignored           uint64            // responses and notifications read: nothing to answer
	BuildErrors       uint64            // answered 96: the reply the rules made could not be built
	InFlight          int               // replies waiting for their delay
	EchoesSent        uint64            // echo tests sent on idle connections (Config.EchoIdle)
	EchoesAnswered    uint64            // their 0810s with 39 = 00
	Dialled           uint64            // connections made by Dial (also counted in Connections)
	NetAnswered       uint64            // 0810s with 39 = 00 to its own sign-ons and sign-offs (Dial, SignOn, SignOff)
	PINChecks         uint64            // PIN blocks checked under the ZPK
	PINFailures       uint64            // of which wrong or undecodable (answered 55)
	KeyChanges        map[string]uint64 // the peer's key changes, by the answer (00 installed)
	// Store-and-forward (ledger.go): Reversals counts the 0420s and 0421s
	// read, ReversalRepeats the 0421s; Advices the 0120, 0121, 0220 and 0221s,
	// AdviceRepeats the 0121s and 0221s. Duplicates counts those whose key
	// (class, RRN, STAN) was applied already, a repeat or a resend of an
	// advice answered 00; LedgerFull those not booked because the ledger
	// was full (Config.LedgerKeys).
	Reversals, ReversalRepeats uint64
	Advices, AdviceRepeats     uint64
	Duplicates                 uint64
	LedgerFull                 uint64
}

// Stats reads the counters.
func (is *Issuer) Stats() Stats {
	c := &is.stats
	s := Stats{
		Connections: c.conns.Load(), Refused: c.refused.Load(), Received: c.received.Load(),
		Answered: map[string]uint64{}, Faults: map[string]uint64{},
		NetworkManagement: c.netMgmt.Load(), FormatErrors: c.formatErrors.Load(),
		MACFailures: c.macFailures.Load(), Ignored: c.ignored.Load(), BuildErrors: c.buildErrors.Load(),
		InFlight: is.sched.len(), EchoesSent: c.echoesSent.Load(), EchoesAnswered: c.echoesAnswered.Load(),
		Dialled: c.dialled.Load(), NetAnswered: c.netAnswered.Load(),
		PINChecks: c.pinChecks.Load(), PINFailures: c.pinFailures.Load(), KeyChanges: map[string]uint64{},
		Reversals: c.reversals.Load(), ReversalRepeats: c.reversalRepeats.Load(),
		Advices: c.advices.Load(), AdviceRepeats: c.adviceRepeats.Load(),
		Duplicates: c.duplicates.Load(), LedgerFull: c.ledgerFull.Load(),
	}
	for i := range c.keyChanges {
		if n := c.keyChanges[i].Load(); n > 0 {
			s.KeyChanges[codeName(i)] = n
		}
	}
	for i := range c.answered {
		if n := c.answered[i].Load(); n > 0 {
			s.Answered[codeName(i)] = n
		}
	}
	for f := FaultNone + 1; f < faultCount; f++ {
		if n := c.faults[f].Load(); n > 0 {
			s.Faults[f.String()] = n
		}
	}
	return s
}

// AnsweredTotal is the sum of Answered.
func (s Stats) AnsweredTotal() uint64 {
	var n uint64
	for _, v := range s.Answered {
		n += v
	}
	return n
}

// WriteText prints the counters for people, one per line.
func (s Stats) WriteText(w io.Writer) {
	fmt.Fprintf(w, "connections  %d (refused %d)\n", s.Connections, s.Refused)
	fmt.Fprintf(w, "received     %d (network management %d)\n", s.Received, s.NetworkManagement)
	fmt.Fprintf(w, "answered     %d\n", s.AnsweredTotal())
	for _, k := range sortedKeys(s.Answered) {
		fmt.Fprintf(w, "  code %s    %d\n", k, s.Answered[k])
	}
	var faults uint64
	for _, v := range s.Faults {
		faults += v
	}
	fmt.Fprintf(w, "faults       %d\n", faults)
	for _, k := range sortedKeys(s.Faults) {
		fmt.Fprintf(w, "  %-10s %d\n", k, s.Faults[k])
	}
	if s.Dialled > 0 {
		fmt.Fprintf(w, "dialled      %d (sign-ons and sign-offs answered 00: %d)\n", s.Dialled, s.NetAnswered)
	}
	if s.PINChecks > 0 {
		fmt.Fprintf(w, "PIN checks   %d (wrong %d)\n", s.PINChecks, s.PINFailures)
	}
	for _, k := range sortedKeys(s.KeyChanges) {
		fmt.Fprintf(w, "key changes answered %s: %d\n", k, s.KeyChanges[k])
	}
	fmt.Fprintf(w, "reversals    %d (repeats %d), advices %d (repeats %d)\n", s.Reversals, s.ReversalRepeats, s.Advices, s.AdviceRepeats)
	fmt.Fprintf(w, "duplicates   %d (key applied already), ledger full %d (not booked)\n", s.Duplicates, s.LedgerFull)
	if s.EchoesSent > 0 {
		fmt.Fprintf(w, "echo tests   %d sent, %d answered 00\n", s.EchoesSent, s.EchoesAnswered)
	}
	fmt.Fprintf(w, "format errors %d, MAC failures %d, ignored %d, unbuildable %d, in flight %d\n",
		s.FormatErrors, s.MACFailures, s.Ignored, s.BuildErrors, s.InFlight)
}

func sortedKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
