// Package testbrowser starts Debian's headless Chromium for tests that
// drive the triage console through github.com/chromedp/chromedp. Without
// a Chromium the test skips, unless FW_REQUIRE_BROWSER=1 (scripts/test
// sets it), where it fails. It is for tests only.
package testbrowser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds a Chromium to drive. Without one the test skips,
// unless FW_REQUIRE_BROWSER=1 (CI), where it fails.
func chromiumPath(t testing.TB) string {
	t.Helper()
	for _, name := range []string{os.Getenv("FW_CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("FW_REQUIRE_BROWSER") == "1" {
		t.Fatal("no chromium binary found (tried $FW_CHROMIUM, chromium, chromium-browser, google-chrome) and FW_REQUIRE_BROWSER=1: install Debian's chromium")
	}
	t.Skip("no chromium binary found: install Debian's chromium (apt-get install chromium) to run the console end to end; FW_REQUIRE_BROWSER=1 makes this a failure")
	return ""
}

// Start starts a headless Chromium with a laptop-sized window and
// returns a tab context, and the messages the page writes to its console.
func Start(t testing.TB) (context.Context, func() []chromedp.ConsoleMessage) {
	t.Helper()
	path := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 768),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // start the browser
		t.Fatalf("starting %s: %v", path, err)
	}
	var mu sync.Mutex
	var msgs []chromedp.ConsoleMessage
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			msgs = append(msgs, m)
			mu.Unlock()
		}
	}()
	// A bound on a hung browser, not a speed requirement.
	tctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelT)
	return tctx, func() []chromedp.ConsoleMessage {
		mu.Lock()
		defer mu.Unlock()
		return append([]chromedp.ConsoleMessage(nil), msgs...)
	}
}

// Until is an action that waits until the JavaScript expression js is
// true in the page, saying what it waited for when it fails.
func Until(what, js string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := chromedp.Poll[chromedp.Void](js)(ctx, tg); err != nil {
			return fmt.Errorf("waiting until %s: %w", what, err)
		}
		return nil
	})
}

// Screenshot saves the page as <name>.png in the directory FW_SCREENSHOTS
// names, and does nothing when it is unset: the README's screenshots are
// made this way.
func Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("FW_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
