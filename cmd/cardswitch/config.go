package main

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cardswitch/cardswitch/engine"
	"github.com/cardswitch/cardswitch/engine/auth"
	"github.com/cardswitch/cardswitch/engine/bizday"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/engine/standin"
	"github.com/cardswitch/cardswitch/engine/upstream"
	"github.com/cardswitch/cardswitch/internal/clock"
	"github.com/cardswitch/cardswitch/journal"
	"github.com/cardswitch/cardswitch/router"
)

//go:embed default.yaml
var defaultConfig []byte

// fileConfig is the YAML configuration file. Keys are documented in
// default.yaml and the README; unknown keys are errors.
type fileConfig struct {
	DataDir string `yaml:"data_dir"`
	Log     struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
	Admin struct {
		Listen    string `yaml:"listen"`
		TokenFile string `yaml:"token_file"`
	} `yaml:"admin"`
	Engine struct {
		Workers          int           `yaml:"workers"`
		QueueDepth       int           `yaml:"queue_depth"`
		EventLoops       int           `yaml:"event_loops"`
		DrainTimeout     time.Duration `yaml:"drain_timeout"`
		MaxBufferedBytes int64         `yaml:"max_buffered_bytes"`
		// MemoryLimitMB is the Go runtime's soft memory limit; unset:
		// defaultMemoryLimitMB, 0: none (see applyMemoryLimit).
		MemoryLimitMB *int64 `yaml:"memory_limit_mb"`
	} `yaml:"engine"`
	// BusinessDay is the calendar of business dates (engine/bizday).
	BusinessDay struct {
		Cutover string `yaml:"cutover"`
		Zone    string `yaml:"zone"`
	} `yaml:"business_day"`
	Links        []linkYAML `yaml:"links"`
	Destinations []destYAML `yaml:"destinations"`
	Routes       struct {
		NoRouteCode string     `yaml:"no_route_code"`
		Rules       []ruleYAML `yaml:"rules"`
	} `yaml:"routes"`
	Issuer struct {
		Data string `yaml:"data"`
		// MaxDropShare is the share of the cards or of the terminals in
		// force that a reload may take away unless forced; default 0.1.
		MaxDropShare *float64 `yaml:"max_drop_share"`
	} `yaml:"issuer"`
	Journal struct {
		Window     time.Duration `yaml:"window"`
		MaxBatch   int           `yaml:"max_batch"`
		KeepDays   int           `yaml:"keep_days"`
		ArchiveDir string        `yaml:"archive_dir"`
		// MinFreeMB and ReserveMB are journal.Options' disk-full
		// thresholds; 0 takes the journal's defaults.
		MinFreeMB int `yaml:"min_free_mb"`
		ReserveMB int `yaml:"reserve_mb"`
	} `yaml:"journal"`
	Snapshot struct {
		Every int           `yaml:"every"`
		Check time.Duration `yaml:"check"`
		Keep  int           `yaml:"keep"`
	} `yaml:"snapshot"`
	Authorization struct {
		Retention       time.Duration `yaml:"retention"`
		DeclineWindow   time.Duration `yaml:"decline_window"`
		MaxTransactions int           `yaml:"max_transactions"`
		MaxPlaceholders int           `yaml:"max_placeholders"`
		MaxBatches      int           `yaml:"max_batches"`
	} `yaml:"authorization"`
	HSM struct {
		Kind         string `yaml:"kind"`
		LMK          string `yaml:"lmk"`
		Addr         string `yaml:"addr"`
		HeaderLength int    `yaml:"header_length"`
		Connections  int    `yaml:"connections"`
	} `yaml:"hsm"`
}

type linkYAML struct {
	Name             string            `yaml:"name"`
	Listen           string            `yaml:"listen"`
	Dialect          string            `yaml:"dialect"`
	Framing          string            `yaml:"framing"`
	MaxFrame         int               `yaml:"max_frame"`
	MaxInFlight      int               `yaml:"max_in_flight"`
	MaxConns         int               `yaml:"max_conns"`
	MaxConnsPerIP    int               `yaml:"max_conns_per_ip"`
	MaxPendingBytes  int               `yaml:"max_pending_bytes"`
	IdleTimeout      time.Duration     `yaml:"idle_timeout"`
	FrameTimeout     time.Duration     `yaml:"frame_timeout"`
	MessageTimeout   time.Duration     `yaml:"message_timeout"`
	SocketBuffer     int               `yaml:"socket_buffer"`
	RequireSignOn    bool              `yaml:"require_sign_on"`
	OverloadCode     string            `yaml:"overload_code"`
	MAC              string            `yaml:"mac"`
	MACFailureCode   string            `yaml:"mac_failure_code"`
	HSMTimeout       time.Duration     `yaml:"hsm_timeout"`
	NotSignedOnCode  string            `yaml:"not_signed_on_code"`
	BCDPad           string            `yaml:"bcd_pad"`
	SignOnAuth       string            `yaml:"sign_on_auth"`
	SignOnLimit      int               `yaml:"sign_on_limit"`
	AcceptCutover    bool              `yaml:"accept_cutover"`
	TLS              *engine.TLSConfig `yaml:"tls"`
	SettleBatchField int               `yaml:"settle_batch_field"`
}

// destYAML is one upstream destination (engine.DestinationConfig).
type destYAML struct {
	Name            string         `yaml:"name"`
	Dialect         string         `yaml:"dialect"`
	Framing         string         `yaml:"framing"`
	MaxFrame        int            `yaml:"max_frame"`
	TPDU            string         `yaml:"tpdu"`
	Header          string         `yaml:"header"`
	Endpoints       []endpointYAML `yaml:"endpoints"`
	Listen          []string       `yaml:"listen"`
	MaxConnections  int            `yaml:"max_connections"`
	Allow           []string       `yaml:"allow"`
	Connections     int            `yaml:"connections"`
	Strategy        string         `yaml:"strategy"`
	Timeout         time.Duration  `yaml:"timeout"`
	MaxInFlight     int            `yaml:"max_in_flight"`
	Key             string         `yaml:"key"`
	Mapping         mappingYAML    `yaml:"mapping"`
	SignOn          bool           `yaml:"sign_on"`
	EchoInterval    time.Duration  `yaml:"echo_interval"`
	MaxPendingBytes int            `yaml:"max_pending_bytes"`
	ReconnectMin    time.Duration  `yaml:"reconnect_min"`
	ReconnectMax    time.Duration  `yaml:"reconnect_max"`
	// zone keys (cryptograms under the LMK) and MACs
	ZMK               string            `yaml:"zmk"`
	ZPK               string            `yaml:"zpk"`
	ZAK               string            `yaml:"zak"`
	MAC               string            `yaml:"mac"`
	PINFormat         string            `yaml:"pin_format"`
	KeyChangeCode     int               `yaml:"key_change_code"`
	KeyChangeInterval time.Duration     `yaml:"key_change_interval"`
	SAF               safYAML           `yaml:"saf"`
	StandIn           standInYAML       `yaml:"stand_in"`
	Breaker           breakerYAML       `yaml:"breaker"`
	TLS               *engine.TLSConfig `yaml:"tls"`
}

// standInYAML is a destination's stand-in (engine.StandInConfig).
type standInYAML struct {
	Enabled     bool     `yaml:"enabled"`
	Currency    uint16   `yaml:"currency"`
	MaxAmount   int64    `yaml:"max_amount"`
	DailyAmount int64    `yaml:"daily_amount"`
	DailyCount  int      `yaml:"daily_count"`
	Processing  []string `yaml:"processing"`
	MTIs        []string `yaml:"mtis"`
	DeclineCode string   `yaml:"decline_code"`
	MaxCards    int      `yaml:"max_cards"`
	// NegativeFile names the negative file: one card a line, "PAN" or
	// "PAN CODE" (41 lost, 43 stolen, ...; default 62); # starts a
	// comment. The start hashes each PAN with the journal's PAN key and
	// keeps only the hashes.
	NegativeFile string `yaml:"negative_file"`
}

type breakerYAML struct {
	Failures int           `yaml:"failures"`
	Window   time.Duration `yaml:"window"`
	Cooldown time.Duration `yaml:"cooldown"`
}

// safYAML is a destination's store-and-forward (engine.SAFConfig).
type safYAML struct {
	Disabled    bool          `yaml:"disabled"`
	Cap         int           `yaml:"cap"`
	Window      int           `yaml:"window"`
	MaxRetries  int           `yaml:"max_retries"`
	ExpireAfter time.Duration `yaml:"expire_after"`
	Timeout     time.Duration `yaml:"timeout"`
	RetryBase   time.Duration `yaml:"retry_base"`
	RetryMax    time.Duration `yaml:"retry_max"`
	Delivered   []string      `yaml:"delivered"`
	Retry       []string      `yaml:"retry"`
}

func (s safYAML) engine() engine.SAFConfig {
	return engine.SAFConfig{Disabled: s.Disabled, Cap: s.Cap, Window: s.Window, MaxRetries: s.MaxRetries, ExpireAfter: s.ExpireAfter,
		Timeout: s.Timeout, RetryBase: s.RetryBase, RetryMax: s.RetryMax, Delivered: s.Delivered, Retry: s.Retry}
}

type endpointYAML struct {
	Address string `yaml:"address"`
	Tier    int    `yaml:"tier"`
}

type mappingYAML struct {
	Out     sideYAML `yaml:"out"`
	Back    sideYAML `yaml:"back"`
	Restore []int    `yaml:"restore"`
}

type sideYAML struct {
	CopyAll bool           `yaml:"copy_all"`
	Copy    []int          `yaml:"copy"`
	Drop    []int          `yaml:"drop"`
	Set     map[int]string `yaml:"set"`
	Rename  []renameYAML   `yaml:"rename"`
}

type renameYAML struct {
	From int `yaml:"from"`
	To   int `yaml:"to"`
}

func (s sideYAML) engine() engine.MappingSide {
	m := engine.MappingSide{CopyAll: s.CopyAll, Copy: s.Copy, Drop: s.Drop, Set: s.Set}
	for _, r := range s.Rename {
		m.Rename = append(m.Rename, upstream.Rename{From: r.From, To: r.To})
	}
	return m
}

func (d destYAML) engine() engine.DestinationConfig {
	c := engine.DestinationConfig{Name: d.Name, Dialect: d.Dialect, Framing: d.Framing, MaxFrame: d.MaxFrame, TPDU: d.TPDU,
		Header: d.Header, Connections: d.Connections, Strategy: d.Strategy, Timeout: d.Timeout, MaxInFlight: d.MaxInFlight,
		Key: d.Key, SignOn: d.SignOn, EchoInterval: d.EchoInterval, MaxPendingBytes: d.MaxPendingBytes,
		ReconnectMin: d.ReconnectMin, ReconnectMax: d.ReconnectMax,
		Listen: d.Listen, MaxConnections: d.MaxConnections, Allow: d.Allow,
		ZMK: d.ZMK, ZPK: d.ZPK, ZAK: d.ZAK, MAC: d.MAC, PINFormat: d.PINFormat, KeyChangeCode: d.KeyChangeCode, KeyChangeInterval: d.KeyChangeInterval,
		Mapping: engine.MappingConfig{Out: d.Mapping.Out.engine(), Back: d.Mapping.Back.engine(), Restore: d.Mapping.Restore},
		SAF:     d.SAF.engine(),
		StandIn: engine.StandInConfig{Config: standin.Config{Enabled: d.StandIn.Enabled, Currency: d.StandIn.Currency, MaxAmount: d.StandIn.MaxAmount,
			DailyAmount: d.StandIn.DailyAmount, DailyCount: d.StandIn.DailyCount, Processing: d.StandIn.Processing, MTIs: d.StandIn.MTIs,
			DeclineCode: d.StandIn.DeclineCode, MaxCards: d.StandIn.MaxCards}},
		Breaker: upstream.BreakerConfig{Failures: d.Breaker.Failures, Window: d.Breaker.Window, Cooldown: d.Breaker.Cooldown},
		TLS:     d.TLS}
	for _, e := range d.Endpoints {
		c.Endpoints = append(c.Endpoints, engine.Endpoint{Address: e.Address, Tier: e.Tier})
	}
	return c
}

type ruleYAML struct {
	Name            string   `yaml:"name"`
	MTIClasses      []string `yaml:"mti_classes"`
	ProcessingCodes []string `yaml:"processing_codes"`
	PANPrefixes     []string `yaml:"pan_prefixes"`
	Links           []string `yaml:"links"`
	Terminals       []string `yaml:"terminals"`
	Merchants       []string `yaml:"merchants"`
	Action          string   `yaml:"action"`
	Destination     string   `yaml:"destination"`
	Code            string   `yaml:"code"`
}

// config is the checked configuration, ready to build the parts.
type config struct {
	file   fileConfig
	engine engine.Config
	routes *router.Table
	issuer *issuer.Data
	limits auth.Limits
	clock  clock.Clock // tests: the engine's clock (nil: the system's)

	reload      func() (*config, error) // reads the file again (SIGHUP)
	reloadTLS   func() (int, error)     // serve: the running server's TLS files read again (engine.Server.ReloadTLS)
	hup         <-chan os.Signal
	acceptLoss  bool // --accept-journal-loss
	rebuildMark bool // --rebuild-journal-mark
	newKey      bool // --new-journal-key

	onCommit func(journal.Commit) // serve: the commit histograms

	// reloaded is the file of the last reload applied (its routes and
	// issuer data are in force; the rest waits for a restart): GET /config.
	reloaded atomic.Pointer[fileConfig]
	// cards is serve's card blocks (admin_cards.go): put over the issuer
	// data at the start and on every reload
	cards *cardStatus
}

// inForce is the configuration the switch runs on: the file as it
// started, with the routes and the issuer data of the last reload.
func (c *config) inForce() fileConfig {
	f := c.file
	if r := c.reloaded.Load(); r != nil {
		f.Routes, f.Issuer = r.Routes, r.Issuer
	}
	return f
}

// loadConfig reads path (or the embedded default when path is empty) and
// checks it whole; the error names the key and the problem.
func loadConfig(path string) (*config, error) {
	raw, name := defaultConfig, "embedded default"
	if path != "" {
		var err error
		if raw, err = os.ReadFile(path); err != nil {
			return nil, err
		}
		name = path
	}
	c, err := parseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", name, err)
	}
	return c, nil
}

func parseConfig(raw []byte) (*config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	if err := checkKeys(&doc, reflect.TypeFor[fileConfig](), ""); err != nil {
		return nil, err
	}
	var f fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			return nil, errors.New(nameKey(raw, te.Errors[0]))
		}
		return nil, err
	}
	c := &config{file: f}
	switch f.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return nil, fmt.Errorf("log.level: %q must be debug, info, warn or error", f.Log.Level)
	}
	if f.Log.Format != "json" && f.Log.Format != "console" {
		return nil, fmt.Errorf("log.format: %q must be json or console", f.Log.Format)
	}
	if f.DataDir == "" {
		return nil, errors.New("data_dir: must be set")
	}
	if f.HSM.Kind == "" {
		f.HSM.Kind = "soft"
	}
	if f.HSM.Kind == "soft" && f.HSM.LMK == "" {
		f.HSM.LMK = "test"
	}
	c.file.HSM = f.HSM
	switch {
	case f.HSM.Kind == "soft" && f.HSM.LMK != "test":
		return nil, fmt.Errorf("hsm.lmk: %q: the software HSM knows the Thales test LMK only (\"test\")", f.HSM.LMK)
	case f.HSM.Kind != "soft" && f.HSM.Kind != "payshield":
		return nil, fmt.Errorf("hsm.kind: %q must be soft or payshield", f.HSM.Kind)
	}
	if f.Journal.Window < 0 || f.Journal.Window > 10*time.Millisecond {
		return nil, fmt.Errorf("journal.window: %v must be 0 to 10ms", f.Journal.Window)
	}
	if f.Journal.MaxBatch < 0 || f.Journal.MaxBatch > journal.MaxBatchLimit {
		return nil, fmt.Errorf("journal.max_batch: %d must be 0 (default) to %d", f.Journal.MaxBatch, journal.MaxBatchLimit)
	}
	if err := checkJournalDisk(f.Journal.MinFreeMB, f.Journal.ReserveMB); err != nil {
		return nil, err
	}
	if err := c.stateConfig(); err != nil {
		return nil, err
	}
	if err := checkListen("admin.listen", f.Admin.Listen); err != nil {
		return nil, err
	}
	if c.file.Admin.TokenFile == "" {
		c.file.Admin.TokenFile = filepath.Join(f.DataDir, adminTokenFile)
	}
	if err := checkPayShield(f.HSM.Kind, payShieldConfig(c)); err != nil {
		return nil, err
	}
	c.engine = engine.Config{Workers: f.Engine.Workers, QueueDepth: f.Engine.QueueDepth,
		EventLoops: f.Engine.EventLoops, DrainTimeout: f.Engine.DrainTimeout,
		MaxBufferedBytes: f.Engine.MaxBufferedBytes,
		BusinessDay:      bizday.Config{Cutover: f.BusinessDay.Cutover, Zone: f.BusinessDay.Zone}}
	for _, l := range f.Links {
		c.engine.Links = append(c.engine.Links, engine.LinkConfig(l))
	}
	for _, d := range f.Destinations {
		c.engine.Destinations = append(c.engine.Destinations, d.engine())
	}
	c.engine = c.engine.WithDefaults()
	if err := c.engine.Validate(); err != nil {
		return nil, err
	}
	links := map[string]bool{}
	for i, l := range c.engine.Links {
		if err := checkListen(fmt.Sprintf("links[%d].listen", i), l.Listen); err != nil {
			return nil, err
		}
		links[l.Name] = true
	}
	dests := map[string]bool{}
	for i, d := range c.engine.Destinations {
		for j, e := range d.Endpoints {
			if err := checkListen(fmt.Sprintf("destinations[%d].endpoints[%d].address", i, j), e.Address); err != nil {
				return nil, err
			}
		}
		for j, a := range d.Listen {
			if err := checkListen(fmt.Sprintf("destinations[%d].listen[%d]", i, j), a); err != nil {
				return nil, err
			}
		}
		dests[d.Name] = true
	}
	if err := checkRules(f.Routes.Rules, links, dests); err != nil {
		return nil, err
	}
	var rules []router.Rule
	for i, r := range f.Routes.Rules {
		a, err := router.ParseAction(r.Action)
		if err != nil {
			return nil, fmt.Errorf("routes.rules[%d].action: %v", i, err)
		}
		rules = append(rules, router.Rule{Name: r.Name, MTIClasses: r.MTIClasses, ProcessingCodes: r.ProcessingCodes,
			PANPrefixes: r.PANPrefixes, Links: r.Links, Terminals: r.Terminals, Merchants: r.Merchants,
			Action: a, Destination: r.Destination, Code: r.Code})
	}
	t, err := router.Compile(rules, f.Routes.NoRouteCode)
	if err != nil {
		return nil, fmt.Errorf("routes: %v", err)
	}
	c.routes = t
	data := issuer.DemoYAML()
	if f.Issuer.Data != "" {
		if data, err = os.ReadFile(f.Issuer.Data); err != nil {
			return nil, fmt.Errorf("issuer.data: %v", err)
		}
	}
	if f.Engine.MemoryLimitMB == nil {
		mb := int64(defaultMemoryLimitMB)
		c.file.Engine.MemoryLimitMB = &mb
	}
	if mb := *c.file.Engine.MemoryLimitMB; mb != 0 && (mb < minMemoryLimitMB || mb > 1<<20) {
		return nil, fmt.Errorf("engine.memory_limit_mb: %d must be 0 (no limit) or %d to %d", mb, minMemoryLimitMB, 1<<20)
	}
	if f.Issuer.MaxDropShare == nil {
		share := defaultMaxDropShare
		c.file.Issuer.MaxDropShare = &share
	}
	if s := *c.file.Issuer.MaxDropShare; !(s >= 0 && s <= 1) {
		return nil, fmt.Errorf("issuer.max_drop_share: %v must be 0 to 1 (a share: 0.1 is 10%%)", s)
	}
	if c.issuer, err = issuer.ParseCounted(data); err != nil {
		return nil, fmt.Errorf("issuer.data: %v", err)
	}
	return c, nil
}

// defaultMaxDropShare is issuer.max_drop_share unset: a reload may take
// away at most 10% of the cards or of the terminals unless forced.
const defaultMaxDropShare = 0.1

// checkRules checks what the router leaves to the configuration: every
// rule has a name of its own (it is journaled with each decision it makes,
// so two rules of one name could not be told apart) and names only links
// that exist (a rule for a misspelt link would never match), and a rule
// that forwards names a configured destination.
func checkRules(rules []ruleYAML, links, dests map[string]bool) error {
	seen := map[string]int{}
	for i, r := range rules {
		key := fmt.Sprintf("routes.rules[%d]", i)
		if r.Name == "" {
			return fmt.Errorf("%s.name: must be set (it is journaled with each decision the rule makes)", key)
		}
		if j, dup := seen[r.Name]; dup {
			return fmt.Errorf("%s.name: %q is used twice (routes.rules[%d] has it too)", key, r.Name, j)
		}
		seen[r.Name] = i
		for _, l := range r.Links {
			if !links[l] {
				return fmt.Errorf("%s.links: %q is not a link of this configuration", key, l)
			}
		}
		if r.Action == "upstream" && r.Destination != "" && !dests[r.Destination] {
			return fmt.Errorf("%s.destination: %q is not a destination of this configuration (destinations[].name)", key, r.Destination)
		}
	}
	return nil
}

// Bounds of the state settings: a snapshot every 10,000 to 100 million
// records (the restart replays at most that many, about a microsecond
// each), checked every 1s to 10m, 1 to 10 kept.
const (
	snapshotEveryMin, snapshotEveryMax = 10_000, 100_000_000
	snapshotKeepMax                    = 10
)

// stateConfig fills the defaults of the journal retention, snapshot and
// authorization settings, in one place, and checks them.
func (c *config) stateConfig() error {
	f := &c.file
	s := &f.Snapshot
	if s.Every == 0 {
		s.Every = 500_000
	}
	if s.Check == 0 {
		s.Check = 10 * time.Second
	}
	if s.Keep == 0 {
		s.Keep = 2
	}
	switch {
	case s.Every < snapshotEveryMin || s.Every > snapshotEveryMax:
		return fmt.Errorf("snapshot.every: %d must be %d to %d records", s.Every, snapshotEveryMin, snapshotEveryMax)
	case s.Check < time.Second || s.Check > 10*time.Minute:
		return fmt.Errorf("snapshot.check: %v must be 1s to 10m", s.Check)
	case s.Keep < 1 || s.Keep > snapshotKeepMax:
		return fmt.Errorf("snapshot.keep: %d must be 1 to %d", s.Keep, snapshotKeepMax)
	case f.Journal.KeepDays < 0:
		return fmt.Errorf("journal.keep_days: %d must be 0 (keep every day) or more", f.Journal.KeepDays)
	}
	a := f.Authorization
	c.limits = auth.Limits{Retention: a.Retention, DeclineWindow: a.DeclineWindow,
		MaxTransactions: a.MaxTransactions, MaxPlaceholders: a.MaxPlaceholders, MaxBatches: a.MaxBatches}.WithDefaults()
	if err := c.limits.Validate(); err != nil {
		return fmt.Errorf("authorization: %v", err)
	}
	return nil
}

// checkJournalDisk checks journal.min_free_mb and journal.reserve_mb
// against the bounds journal.Options.Validate applies (the switch runs the
// default memtable), naming the key.
func checkJournalDisk(minFree, reserve int) error {
	switch {
	case minFree < 0 || minFree > journal.MinFreeMBMax:
		return fmt.Errorf("journal.min_free_mb: %d must be 0 (the default, %d) or %d to %d (MiB of free disk below which commits pause)",
			minFree, journal.DefaultMinFreeMB, journal.MinFreeMBLeast, journal.MinFreeMBMax)
	case minFree != 0 && minFree < journal.MinFreeMBLeast:
		return fmt.Errorf("journal.min_free_mb: %d must be 0 (the default, %d) or %d to %d: below %d MiB free, Badger's last memtable flush may not fit and a full disk kills the switch (SIGBUS)",
			minFree, journal.DefaultMinFreeMB, journal.MinFreeMBLeast, journal.MinFreeMBMax, journal.MinFreeMBLeast)
	case reserve < 0 || reserve > journal.ReserveMBMax:
		return fmt.Errorf("journal.reserve_mb: %d must be 0 (the default, %d) to %d (MiB of disk held back, allocated, and given up when the disk fills)",
			reserve, journal.DefaultReserveMB, journal.ReserveMBMax)
	}
	return nil
}

// snapshotDir holds the state snapshots.
func (c *config) snapshotDir() string { return filepath.Join(c.file.DataDir, "snapshots") }

// archiveDir receives the exports of closed business days.
func (c *config) archiveDir() string {
	if c.file.Journal.ArchiveDir != "" {
		return c.file.Journal.ArchiveDir
	}
	return filepath.Join(c.file.DataDir, "archive")
}

var lineRef = regexp.MustCompile(`^line (\d+): `)

// nameKey adds the YAML key of the line a decoding error points at:
// "line 18: cannot unmarshal ..." becomes "drain_timeout (line 18): cannot ...".
func nameKey(raw []byte, msg string) string {
	m := lineRef.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	n, _ := strconv.Atoi(m[1])
	lines := strings.Split(string(raw), "\n")
	if n < 1 || n > len(lines) {
		return msg
	}
	key, _, ok := strings.Cut(strings.TrimLeft(lines[n-1], " -"), ":")
	if !ok || key == "" {
		return msg
	}
	return key + " (line " + m[1] + "): " + strings.TrimPrefix(msg, m[0])
}
