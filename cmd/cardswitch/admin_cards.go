package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/internal/durable"
	"github.com/cardswitch/cardswitch/internal/pan"
)

// cardStatusFile holds the cards an operator blocked through the admin
// API, in the data directory.
const cardStatusFile = "card-status.json"

// cardStatusMax bounds the blocks kept (the file and the map): a hot-card
// list of that size belongs in the issuer data.
const cardStatusMax = 100000

// issuerSwapper is what the card blocks ask of the authorizer.
type issuerSwapper interface {
	Data() *issuer.Data
	Reload(*issuer.Data)
}

// cardStatus is the operator's layer over the issuer data's card status:
// POST /cards/block makes a card blocked, lost or stolen whatever the file
// says, POST /cards/unblock takes that away (the file's status applies
// again). A card is known by the keyed hash of its PAN (the journal's PAN
// key) and its masked PAN: the file never holds the PAN. The file is
// written (synced, renamed) before the block takes effect, so a block
// answered 200 outlives a restart, and it is applied again on every
// issuer data reload.
type cardStatus struct {
	path string
	hash func([]byte) [32]byte
	now  func() time.Time

	mu     sync.Mutex // guards blocks, base, the file and the issuer data swaps
	blocks map[[32]byte]cardBlock
	base   *issuer.Data // the issuer data as its file has it (the last start or reload)
}

// cardBlock is one card's block as the file and GET /cards/blocked show it.
type cardBlock struct {
	PANHash string `json:"pan_hash"` // hex HMAC-SHA-256 of the PAN under the PAN key
	PAN     string `json:"pan"`      // masked: first 6, last 4
	Status  string `json:"status"`   // blocked, lost or stolen
	Changed string `json:"changed"`  // when (RFC 3339, UTC)
}

func loadCardStatus(path string, hash func([]byte) [32]byte, now func() time.Time) (*cardStatus, error) {
	cs := &cardStatus{path: path, hash: hash, now: now, blocks: map[[32]byte]cardBlock{}}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return cs, nil
	}
	if err != nil {
		return nil, err
	}
	var f struct{ Cards []cardBlock }
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(f.Cards) > cardStatusMax {
		return nil, fmt.Errorf("%s: %d cards, at most %d", path, len(f.Cards), cardStatusMax)
	}
	for i, b := range f.Cards {
		h, err := hex.DecodeString(b.PANHash)
		if err != nil || len(h) != 32 || !blockStatus(b.Status) {
			return nil, fmt.Errorf("%s: cards[%d]: want a 64-digit pan_hash and a status blocked, lost or stolen", path, i)
		}
		cs.blocks[[32]byte(h)] = b
	}
	return cs, nil
}

func blockStatus(s string) bool { return s == "blocked" || s == "lost" || s == "stolen" }

// install puts d (a start's or a reload's issuer data), with the blocks
// over it, in force.
func (cs *cardStatus) install(a issuerSwapper, d *issuer.Data) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if err := cs.applyLocked(a, d); err != nil {
		return err
	}
	cs.base = d
	return nil
}

func (cs *cardStatus) applyLocked(a issuerSwapper, d *issuer.Data) error {
	if len(cs.blocks) > 0 {
		var err error
		d, err = d.WithCardStatus(func(c *issuer.Card) (string, bool) {
			b, ok := cs.blocks[cs.hash([]byte(c.PAN))]
			return b.Status, ok
		})
		if err != nil {
			return err
		}
	}
	a.Reload(d)
	return nil
}

var (
	errNoCard     = errors.New("no such card in the issuer data")
	errNotBlocked = errors.New("the card is not blocked through the admin API")
)

// set blocks the card (status blocked, lost or stolen) or, with status
// "", takes its block away.
func (cs *cardStatus) set(a issuerSwapper, cardPAN, status string) (cardBlock, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c, ok := cs.base.Card([]byte(cardPAN))
	if !ok {
		return cardBlock{}, errNoCard
	}
	h := cs.hash([]byte(cardPAN))
	prev, had := cs.blocks[h]
	b := cardBlock{PANHash: hex.EncodeToString(h[:]), PAN: codec.MaskPAN(cardPAN), Status: status, Changed: cs.now().UTC().Format(time.RFC3339)}
	switch {
	case status == "" && !had:
		return cardBlock{PAN: b.PAN, Status: c.Status}, errNotBlocked
	case status == "":
		delete(cs.blocks, h)
		b.Status = c.Status // the file's, in force again
	case !had && len(cs.blocks) >= cardStatusMax:
		return cardBlock{}, fmt.Errorf("%d cards blocked already, at most %d: put them in the issuer data", len(cs.blocks), cardStatusMax)
	default:
		cs.blocks[h] = b
	}
	if err := cs.writeLocked(); err != nil {
		if had { // the file is as it was: so is the map
			cs.blocks[h] = prev
		} else {
			delete(cs.blocks, h)
		}
		return cardBlock{}, err
	}
	return b, cs.applyLocked(a, cs.base)
}

// writeLocked replaces the file: written, synced, renamed, the directory
// synced.
func (cs *cardStatus) writeLocked() error {
	list := make([]cardBlock, 0, len(cs.blocks))
	for _, b := range cs.blocks {
		list = append(list, b)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].PANHash < list[j].PANHash })
	raw, err := json.MarshalIndent(struct {
		Cards []cardBlock `json:"cards"`
	}{list}, "", "  ")
	if err != nil {
		return err
	}
	tmp := cs.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(raw, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, cs.path)
	}
	if err == nil {
		err = durable.SyncDir(filepath.Dir(cs.path))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("card status file: %w", err)
	}
	return nil
}

func (cs *cardStatus) list() []cardBlock {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	out := make([]cardBlock, 0, len(cs.blocks))
	for _, b := range cs.blocks {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Changed < out[j].Changed || out[i].Changed == out[j].Changed && out[i].PAN < out[j].PAN
	})
	return out
}

// cardHandlers serve POST /cards/block, POST /cards/unblock (the guard
// asks for the token) and GET /cards/blocked.
func cardHandlers(mux *http.ServeMux, cs *cardStatus, a issuerSwapper, log zerolog.Logger) {
	change := func(block bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				PAN    string `json:"pan"`
				Status string `json:"status"`
			}
			dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil {
				// not echoed: the body holds a card number
				http.Error(w, `want {"pan":"CARD NUMBER"} (block: and "status": blocked, lost or stolen; default blocked)`, http.StatusBadRequest)
				return
			}
			if !pan.Valid(req.PAN) {
				http.Error(w, "pan: 12 to 19 digits with a valid check digit", http.StatusBadRequest)
				return
			}
			switch {
			case !block && req.Status != "":
				http.Error(w, "unblock takes no status: the issuer data's applies again", http.StatusBadRequest)
				return
			case block && req.Status == "":
				req.Status = "blocked"
			case block && !blockStatus(req.Status):
				http.Error(w, "status: blocked, lost or stolen", http.StatusBadRequest)
				return
			}
			b, err := cs.set(a, req.PAN, req.Status)
			switch {
			case errors.Is(err, errNoCard):
				http.Error(w, err.Error(), http.StatusNotFound)
				return
			case errors.Is(err, errNotBlocked):
				http.Error(w, fmt.Sprintf("%v: its status is the issuer data's, %s", err, b.Status), http.StatusConflict)
				return
			case err != nil:
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			log.Warn().Str("pan", b.PAN).Str("status", b.Status).Bool("block", block).Msg("card status changed (admin API)")
			writeJSON(w, struct {
				PAN    string `json:"pan"`
				Status string `json:"status"`
			}{b.PAN, b.Status})
		}
	}
	mux.Handle("POST /cards/block", change(true))
	mux.Handle("POST /cards/unblock", change(false))
	mux.HandleFunc("GET /cards/blocked", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, cs.list()) })
}
