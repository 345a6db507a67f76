package engine

import (
	"bytes"
	"net/http"
	"net/http/httptest"
)

type recorder struct {
	*httptest.ResponseRecorder
	body *bytes.Buffer
}

func newRecorder() recorder {
	r := httptest.NewRecorder()
	return recorder{r, r.Body}
}

func mustRequest(path string) *http.Request { return httptest.NewRequest(http.MethodGet, path, nil) }
