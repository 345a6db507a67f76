package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/engine"
	"github.com/cardswitch/cardswitch/internal/pan"
	"github.com/cardswitch/cardswitch/journal"
)

// negativeFileMax bounds a negative file's lines, as standin.MaxNegative
// bounds its entries: a hot-card list of a few million cards.
const negativeFileMax = 1 << 22

// loadNegatives reads each stand-in destination's negative file and puts
// its cards, as keyed hashes under the journal's PAN key, in the engine's
// configuration: the PANs themselves are not kept, and never logged (a
// bad line is named by its number).
func loadNegatives(c *config, prot *journal.Protector) error {
	for i, d := range c.file.Destinations {
		path := d.StandIn.NegativeFile
		if path == "" {
			continue
		}
		m, err := readNegative(path, prot)
		if err != nil {
			return fmt.Errorf("destinations[%d].stand_in.negative_file: %w", i, err)
		}
		c.engine.Destinations[i].StandIn.Negative = m
	}
	return nil
}

func readNegative(path string, prot *journal.Protector) (map[[32]byte]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[[32]byte]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if n > negativeFileMax || len(fields) > 2 || !pan.Valid(fields[0]) {
			return nil, fmt.Errorf("line %d: want a PAN (12 to 19 digits, Luhn-valid) and an optional 2-character code", n)
		}
		code := ""
		if len(fields) == 2 {
			if len(fields[1]) != 2 {
				return nil, fmt.Errorf("line %d: the code must be 2 characters", n)
			}
			code = fields[1]
		}
		m[prot.HashPAN([]byte(fields[0]))] = code
	}
	return m, sc.Err()
}

// restoreStandIn applies the day's stand-in approvals the replay kept to
// the engine's stand-in state (the cards' daily limits), before any
// traffic; the replay's set goes (the snapshots' follower keeps its own).
func restoreStandIn(st *state, srv *engine.Server, log zerolog.Logger) error {
	recs, err := st.stood.records()
	if err != nil {
		return err
	}
	st.stood = newStandInSet()
	if n := srv.RestoreStandIn(recs); n > 0 {
		log.Info().Int("approvals", n).Msg("stand-in: today's approvals applied to the cards' daily limits")
	}
	return nil
}
