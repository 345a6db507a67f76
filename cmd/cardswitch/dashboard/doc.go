// Package dashboard is the switch's live dashboard: a page on the admin
// listener, served from files embedded in the binary (no CDN, no fetch from
// anywhere but the switch: it works offline), that polls GET
// /dashboard/data once a second and draws what it gets.
//
// The data endpoint is built here, in Go, from the switch's own Prometheus
// registry (its Gather method), not by the page parsing /metrics: rates
// and histogram percentiles need two samples and bucket arithmetic, which
// is easier to get right and to test in Go, and every open page then
// shows the same numbers. A sample is gathered at most once every
// sampleEvery whatever the number of pages polling; the last samplesMax
// are kept (bounded) for the charts' history. Nothing is sampled while no
// page asks.
//
// Use:
//
//	d := dashboard.New(dashboard.Config{Gatherer: reg, Links: links})
//	mux.Handle("/dashboard/", d.Handler())
package dashboard
