package main

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/internal/logline"
)

// adminTokenFile is the default admin.token_file, in the data directory.
const adminTokenFile = "admin.token"

// adminToken reads the admin token from path; on the first start (no file)
// it creates one of 32 random bytes, hex, mode 0600, and logs it once. A
// file readable by others or shorter than 32 characters is refused: the
// token guards every mutating admin call.
func adminToken(path string, log zerolog.Logger) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("admin.token_file: %v", err)
		}
		tok := []byte(hex.EncodeToString(b[:]))
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("admin.token_file: %v", err)
		}
		_, err = f.Write(append(tok, '\n'))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
			return nil, fmt.Errorf("admin.token_file: %v", err)
		}
		// printed this once: afterwards it is only in the file
		log.Warn().Str("file", path).Str("token", string(tok)).Msg("admin token created: send it as 'Authorization: Bearer <token>' on POST /reload")
		return tok, nil
	}
	if err != nil {
		return nil, fmt.Errorf("admin.token_file: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("admin.token_file: %v", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("admin.token_file: %s is mode %04o: it must be readable by its owner only (chmod 600)", path, st.Mode().Perm())
	}
	tok := []byte(strings.TrimSpace(string(raw)))
	if len(tok) < 32 {
		return nil, fmt.Errorf("admin.token_file: %s holds %d characters: at least 32 needed", path, len(tok))
	}
	return tok, nil
}

// adminGuard sits in front of the admin handlers. Every request must name
// the admin port by an IP address or "localhost" in its Host (a name that
// resolves here is DNS rebinding), and a request with an Origin header (a
// browser's) must come from the admin's own origin: a web page cannot
// reach the admin port through the browser. Reads (GET, HEAD) are open
// past that; every other method needs the token as a bearer token, and is
// logged, rate-limited, with its caller and outcome.
type adminGuard struct {
	token []byte
	port  string // the admin listener's port
	log   zerolog.Logger
	now   func() time.Time
	next  http.Handler
	lines lineLimit
}

func newAdminGuard(token []byte, addr net.Addr, log zerolog.Logger, now func() time.Time, next http.Handler) *adminGuard {
	_, port, _ := net.SplitHostPort(addr.String())
	return &adminGuard{token: token, port: port, log: log, now: now, next: next,
		lines: lineLimit{every: time.Minute, burst: 20}}
}

// hostOK reports a Host naming the admin port by an IP address or localhost.
func (g *adminGuard) hostOK(hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || port != g.port {
		return false
	}
	return strings.EqualFold(host, "localhost") || net.ParseIP(host) != nil
}

func (g *adminGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.hostOK(r.Host) {
		g.refuse(w, r, http.StatusMisdirectedRequest, "Host must be the admin address (an IP address or localhost with the admin port)")
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		g.refuse(w, r, http.StatusForbidden, "cross-origin requests are refused")
		return
	}
	// profiles cost CPU for as long as the caller asks and show the
	// switch's insides: a token even to read them
	private := strings.HasPrefix(r.URL.Path, "/debug/")
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && !private {
		g.next.ServeHTTP(w, r)
		return
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), g.token) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cardswitch admin"`)
		g.refuse(w, r, http.StatusUnauthorized, "a mutating admin call or a profile needs 'Authorization: Bearer <token>' (the token is in admin.token_file)")
		return
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	g.next.ServeHTTP(rec, r)
	g.logCall(r, rec.status, "")
}

func (g *adminGuard) refuse(w http.ResponseWriter, r *http.Request, status int, why string) {
	http.Error(w, why, status)
	g.logCall(r, status, why)
}

// logCall logs a mutating call or a refused request with its caller.
func (g *adminGuard) logCall(r *http.Request, status int, why string) {
	dropped, ok := g.lines.allow(g.now())
	if !ok {
		return
	}
	ev := g.log.Info()
	if status >= 300 {
		ev = g.log.Warn()
	}
	if why != "" {
		ev = ev.Str("refused", why)
	}
	ev = ev.Str("remote", r.RemoteAddr).Str("method", r.Method).Str("path", r.URL.Path).
		Str("outcome", strconv.Itoa(status)+" "+http.StatusText(status))
	logline.Held(ev, "dropped_lines", dropped).Msg("admin call")
}

// statusRecorder keeps the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// lineLimit lets at most burst log lines through per every, counting the
// ones it held back so the next line says how many.
type lineLimit struct {
	every time.Duration
	burst int

	mu      sync.Mutex
	start   time.Time
	lines   int
	dropped int64
}

func (l *lineLimit) allow(now time.Time) (dropped int64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.start.IsZero() || now.Sub(l.start) >= l.every {
		l.start, l.lines = now, 0
	}
	if l.lines >= l.burst {
		l.dropped++
		return 0, false
	}
	l.lines++
	dropped, l.dropped = l.dropped, 0
	return dropped, true
}
