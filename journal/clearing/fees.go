package clearing

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// maxBPS bounds a fee rate: 10000 basis points is the whole amount.
const maxBPS = 10000

// Fees is the merchant service charge per MCC, in basis points of each
// debit (purchase, cash, completion); refunds are not charged and give no
// fee back. A fee is rounded half up to the minor unit.
//
//	default_bps: 150
//	mcc:
//	  5411: 120
//	  5812: 200
type Fees struct {
	DefaultBPS uint32            `yaml:"default_bps"`
	MCC        map[uint16]uint32 `yaml:"mcc"`
}

// LoadFees reads a fee file (above), every rate checked.
func LoadFees(path string) (Fees, error) {
	var f Fees
	raw, err := os.ReadFile(path)
	if err != nil {
		return f, fmt.Errorf("clearing: fee file: %w", err)
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		return f, fmt.Errorf("clearing: fee file %s: %w", path, err)
	}
	if f.DefaultBPS > maxBPS {
		return f, fmt.Errorf("clearing: fee file %s: default_bps %d over %d", path, f.DefaultBPS, maxBPS)
	}
	for mcc, bps := range f.MCC {
		if bps > maxBPS || mcc > 9999 {
			return f, fmt.Errorf("clearing: fee file %s: mcc %d: rate %d bps (at most %d, MCC 4 digits)", path, mcc, bps, maxBPS)
		}
	}
	return f, nil
}

// Fee is the fee on one cleared line.
func (f Fees) Fee(l *Line) int64 {
	if l.Kind.Credit() || l.Amount <= 0 {
		return 0
	}
	bps, ok := f.MCC[l.MCC]
	if !ok {
		bps = f.DefaultBPS
	}
	// amount below 10^12 (12 digits) times at most 10^4 stays far below 2^63
	return (l.Amount*int64(bps) + 5000) / 10000
}
