package httpapi

import (
	"embed"
	"net/http"
	"path"
)

// web holds the console: static files, no build step, nothing fetched
// from elsewhere, so it works offline and under a 'self'-only CSP.
//
//go:embed web/index.html web/app.js web/app.css
var web embed.FS

// consoleTypes are the console's files and their content types, set
// explicitly so that they do not depend on the host's mime.types.
var consoleTypes = map[string]string{
	"index.html": "text/html; charset=utf-8",
	"app.js":     "text/javascript; charset=utf-8",
	"app.css":    "text/css; charset=utf-8",
}

// console serves the console's files at / (index.html), /app.js and
// /app.css; anything else is 404. The files carry no data and no
// secrets: the console fetches everything from /api with the token the
// analyst types.
func console() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := path.Base(r.URL.Path)
		if r.URL.Path == "/" {
			name = "index.html"
		}
		ctype, ok := consoleTypes[name]
		if !ok || path.Dir(r.URL.Path) != "/" {
			http.NotFound(w, r)
			return
		}
		data, err := web.ReadFile("web/" + name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-cache")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(data)
	})
}
