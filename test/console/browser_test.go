package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/parquet-go/parquet-go"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// screenshotDir receives the browser test's screenshots (git ignores it).
const screenshotDir = "screenshots"

// chromiumPath finds Debian's chromium (scripts/install-test-deps.sh
// installs it).
func chromiumPath(t *testing.T) string {
	for _, p := range []string{os.Getenv("TUSK_CHROMIUM"), "chromium", "/usr/bin/chromium", "chromium-browser"} {
		if p == "" {
			continue
		}
		if abs, err := exec.LookPath(p); err == nil {
			return abs
		}
	}
	t.Fatal("no chromium: run scripts/install-test-deps.sh (apt-get install chromium) or set TUSK_CHROMIUM")
	return ""
}

// page drives one headless Chromium tab.
type page struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot int
}

func newPage(t *testing.T, base string) *page {
	t.Helper()
	dir := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // root in CI
		chromedp.DisableGPU,
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1280, 860),
		// No network but loopback here: keep Chromium from calling home.
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &page{t: t, ctx: ctx, base: base}
}

func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.screenshot("failed")
		p.t.Fatalf("%s: %v", what, err)
	}
}

// eval runs JS and returns its value as a string.
func (p *page) eval(js string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[any](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("eval %s: %v", js, err)
	}
	return fmt.Sprint(v)
}

// open goes to a console route (#/...) and waits for its page to render.
func (p *page) open(hash, page string) {
	p.t.Helper()
	// The same hash again fires no hashchange: render it anew (route is
	// the console's router).
	p.eval(fmt.Sprintf(`document.body.dataset.page = ""; if (location.hash === %q) route(); else location.hash = %q; true`, hash, hash))
	p.waitPage(page)
}

func (p *page) waitPage(page string) {
	p.t.Helper()
	p.wait("body", "", fmt.Sprintf("document.body.dataset.page === %q", page))
}

// wait waits until the element sel contains text (and cond, a JS
// expression, holds when given); a console error page fails at once.
func (p *page) wait(sel, text, cond string) string {
	p.t.Helper()
	if cond == "" {
		cond = "true"
	}
	sb, _ := json.Marshal(sel)
	tb, _ := json.Marshal(text)
	// Polled from Go: the console's CSP (no eval) refuses chromedp's
	// in-page poller, which builds its predicate with new Function.
	js := fmt.Sprintf(`(() => {
		const h = document.querySelector("main h1");
		if (h && h.textContent === "Error") return "ERROR: " + document.querySelector("main").textContent;
		if (!(%s)) return "";
		const e = document.querySelector(%s);
		return e && e.textContent.includes(%s) ? "OK" + e.textContent : "";
	})()`, cond, sb, tb)
	deadline := time.Now().Add(60 * time.Second)
	var got string
	var err error
	for {
		got = p.eval(js)
		if strings.HasPrefix(got, "ERROR: ") {
			err = fmt.Errorf("%s", got)
			break
		}
		if strings.HasPrefix(got, "OK") {
			got = got[2:]
			break
		}
		if time.Now().After(deadline) {
			err = fmt.Errorf("timed out")
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		p.screenshot("failed")
		body := p.eval(`document.querySelector("main") ? document.querySelector("main").innerText.slice(0, 2000) : ""`)
		p.t.Fatalf("waiting for %q in %s: %v\npage %s (%s):\n%s", text, sel, err, p.eval(`document.body.dataset.page`), p.eval(`location.hash`), body)
	}
	return got
}

// click clicks the first element matching sel whose text contains text.
// It clears the page name first, so that waitPage after a click waits for
// the page the click opens, even one of the same kind.
func (p *page) click(sel, text string) {
	p.t.Helper()
	ok := p.eval(fmt.Sprintf(`(() => { document.body.dataset.page = ""; for (const e of document.querySelectorAll(%q)) if (e.textContent.includes(%q)) { e.dispatchEvent(new MouseEvent("click", {bubbles: true, cancelable: true, view: window})); return true } return false })()`, sel, text))
	if ok != "true" {
		p.screenshot("failed")
		p.t.Fatalf("nothing to click: %s containing %q", sel, text)
	}
}

// fill sets the named inputs of the form sel and submits it.
func (p *page) fill(sel string, values map[string]string) {
	p.t.Helper()
	b, _ := json.Marshal(values)
	ok := p.eval(fmt.Sprintf(`(() => { const f = document.querySelector(%q); if (!f) return false;
		for (const [k, v] of Object.entries(%s)) f.elements[k].value = v;
		f.requestSubmit(); return true })()`, sel, b))
	if ok != "true" {
		p.screenshot("failed")
		p.t.Fatalf("no form %s", sel)
	}
}

// drop drops files (name -> content) onto the upload zone, as a drag and
// drop from the desktop does.
func (p *page) drop(files map[string]string) {
	p.t.Helper()
	b, _ := json.Marshal(files)
	p.eval(fmt.Sprintf(`(() => { const dt = new DataTransfer();
		for (const [n, c] of Object.entries(%s)) dt.items.add(new File([c], n, {type: "text/plain"}));
		document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
		return true })()`, b))
}

func (p *page) screenshot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	p.shot++
	f := filepath.Join(screenshotDir, fmt.Sprintf("%02d-%s.png", p.shot, name))
	if err := os.WriteFile(f, png, 0o644); err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
	}
}

// TestConsoleInBrowser drives the console in headless Chromium along its
// main path: sign in, create a repo, upload by drag and drop (one commit
// per batch), browse a key at two versions, diff two branches, merge (a
// conflict listed, then a clean merge), open a pipeline's job with the
// log of its failed datum and the provenance graph of an output, sign out;
// a user without permission on a repo does not see it, and a request
// forged from the page without the CSRF token is refused.
func TestConsoleInBrowser(t *testing.T) {
	srv := start(t)
	// Set-up through the API: a user without permissions, a pipeline over
	// raw whose datum bad.txt fails (commit_partial keeps the good ones).
	eveKey, eveSecret := newUser(t, srv, "eve", false)
	adminCall(t, srv, "POST", "/repos", map[string]string{"name": "raw"}, http.StatusCreated, nil)
	setup := newBrowser(t, srv)
	setup.signIn(gatewaytest.AccessKey, gatewaytest.SecretKey)
	for k, v := range map[string]string{"a.txt": "apple\n", "bad.txt": "rotten\n"} {
		if st, _, body := setup.do("PUT", "/raw/"+k, []byte(v), setup.withCSRF()); st != http.StatusOK {
			t.Fatalf("put raw/%s: %d %s", k, st, body)
		}
	}
	adminCall(t, srv, "POST", "/pipelines", `name: upper
input: {pfs: {repo: raw, glob: "/*"}}
transform:
  cmd: [sh]
  stdin: ['for f in "$TUSK_PFS"/raw/*; do case "$f" in *bad*) echo "cannot read $f" >&2; exit 3;; esac; tr a-z A-Z < "$f" > "$TUSK_PFS/out/$(basename "$f")"; done']
datum_tries: 1
on_failure: commit_partial
job_retries: 0
`, http.StatusCreated, nil)
	adminCall(t, srv, "POST", "/pipelines", `name: shout
input: {pfs: {repo: upper, glob: "/*"}}
transform:
  cmd: [sh]
  stdin: ['for f in "$TUSK_PFS"/upper/*; do sed "s/$/!/" "$f" > "$TUSK_PFS/out/$(basename "$f")"; done']
`, http.StatusCreated, nil)

	p := newPage(t, srv.URL)
	// Sign in.
	p.do("open the console", chromedp.Navigate(srv.URL+"/ui/"))
	p.waitPage("login")
	p.screenshot("sign-in")
	p.fill("#login", map[string]string{"access_key": gatewaytest.AccessKey, "secret_key": "wrong"})
	p.wait("#login .error", "wrong access key or secret key", "")
	p.fill("#login", map[string]string{"access_key": gatewaytest.AccessKey, "secret_key": gatewaytest.SecretKey})
	p.waitPage("repos")
	p.wait("#who", "admin", "")
	if c := p.eval(`document.cookie`); strings.Contains(c, "tusk_session") {
		t.Fatalf("the session cookie is readable from JS (not HttpOnly): %q", c)
	}

	// Create a repo.
	p.fill("#create-repo", map[string]string{"name": "photos"})
	p.waitPage("repo")
	p.wait("main h1", "photos", "")

	// Upload by drag and drop into main: two files, one commit.
	p.open("#/tree?repo=photos&ref=main", "tree")
	p.drop(map[string]string{"hello.txt": "version one\n", "notes.csv": "name,n\nalpha,1\nbeta,2\n"})
	p.wait("#upload-status", "Uploaded 2 file(s) as commit", "")
	if v := p.eval(`document.getElementById("upload-progress").value`); v != "1" {
		t.Fatalf("progress bar at %s after the upload, want 1", v)
	}
	var lg apiv1.LogResult
	adminCall(t, srv, "GET", "/repos/photos/log", nil, http.StatusOK, &lg)
	if len(lg.Commits) != 2 || !strings.Contains(lg.Commits[0].Message, "upload 2 file(s)") {
		t.Fatalf("after one upload batch, main's log is %+v; want one commit for the batch over the first", lg.Commits)
	}
	v1 := lg.Commits[0].ID
	// A second version of hello.txt.
	p.open("#/tree?repo=photos&ref=main", "tree")
	p.drop(map[string]string{"hello.txt": "version two\n", "data.json": `{"rows":[1,2],"ok":true}`})
	p.wait("#upload-status", "Uploaded 2 file(s)", "")
	p.open("#/tree?repo=photos&ref=main", "tree")
	p.wait("main table", "notes.csv", "")
	p.screenshot("browse")

	// The object at main (version two), its versions, and at the first
	// version's commit (version one).
	p.open("#/object?repo=photos&ref=main&key=hello.txt", "object")
	p.wait("#preview", "version two", "")
	p.wait("#versions", v1, "")
	p.screenshot("object")
	p.click("#versions a", v1)
	p.waitPage("object")
	p.wait("#preview", "version one", "")
	p.open("#/object?repo=photos&ref=main&key=notes.csv", "object")
	p.wait("#preview table", "beta", "")
	// Download: the file lands with its bytes.
	dl := t.TempDir()
	if _, err := chromedp.CallBrowser(p.ctx, cdpbrowser.SetDownloadBehavior,
		cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl}); err != nil {
		t.Fatal(err)
	}
	p.click("#download", "Download")
	for i := 0; ; i++ {
		b, err := os.ReadFile(filepath.Join(dl, "notes.csv"))
		if err == nil && string(b) == "name,n\nalpha,1\nbeta,2\n" {
			break
		}
		if i > 200 {
			t.Fatalf("download of notes.csv: %q %v", b, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.open("#/object?repo=photos&ref=main&key=data.json", "object")
	p.wait("#preview pre.json", "\"rows\": [\n    1,", "")
	// An image (this repo's own docs/console.png) previews as an image,
	// though object answers to the console are sandboxed.
	png, err := os.ReadFile("../../docs/console.png")
	if err != nil {
		t.Fatal(err)
	}
	if st, _, body := setup.do("PUT", "/photos/pic.png", png, map[string]string{"X-Tusk-Csrf": setup.csrf, "Content-Type": "image/png"}); st != http.StatusOK {
		t.Fatalf("put pic.png: %d %s", st, body)
	}
	p.open("#/object?repo=photos&ref=main&key=pic.png", "object")
	p.wait("body", "", `(() => { const i = document.querySelector("#preview img"); return i && i.complete && i.naturalWidth > 100 })()`)
	// A Parquet file previews as its schema and a table of its head rows.
	type city struct {
		Name string `parquet:"name"`
		Pop  int64  `parquet:"pop"`
	}
	var pq bytes.Buffer
	if err := parquet.Write(&pq, []city{{"Lyon", 522000}, {"Porto", 232000}, {"Kyoto", 1460000}}); err != nil {
		t.Fatal(err)
	}
	if st, _, body := setup.do("PUT", "/photos/cities.parquet", pq.Bytes(), setup.withCSRF()); st != http.StatusOK {
		t.Fatalf("put cities.parquet: %d %s", st, body)
	}
	p.open("#/object?repo=photos&ref=main&key=cities.parquet", "object")
	p.wait("#parquet-head table", "Kyoto", "")
	p.wait("#parquet-summary", "Parquet: 3 rows in 1 row group, 2 columns", "")
	p.wait("#parquet-schema", "pop", "")
	p.screenshot("parquet")

	// A branch with a change, the diff of the two branches, a conflicting
	// merge (listed), then a clean one.
	p.open("#/repo?repo=photos", "repo")
	p.fill("#create-branch", map[string]string{"name": "dev", "from": "main"})
	p.wait("main table", "dev", "")
	p.open("#/tree?repo=photos&ref=dev", "tree")
	p.drop(map[string]string{"dev-only.txt": "on dev\n", "hello.txt": "dev's hello\n"})
	p.wait("#upload-status", "Uploaded 2 file(s)", "")
	p.open("#/tree?repo=photos&ref=main", "tree")
	p.drop(map[string]string{"hello.txt": "main's hello\n"})
	p.wait("#upload-status", "Uploaded 1 file(s)", "")
	p.open("#/repo?repo=photos", "repo")
	p.fill("#diff", map[string]string{"from": "main", "to": "dev"})
	p.waitPage("diff")
	got := p.wait("#diff-result", "dev-only.txt", "")
	if !strings.Contains(got, "1 added, 1 changed, 0 removed") {
		t.Fatalf("diff main..dev: %q", got)
	}
	p.screenshot("diff")
	p.open("#/repo?repo=photos", "repo")
	p.fill("#merge", map[string]string{"source": "dev", "destination": "main", "strategy": "fail"})
	p.wait("#merge-result .conflicts", "hello.txt", "")
	p.screenshot("merge-conflict")
	p.fill("#merge", map[string]string{"source": "dev", "destination": "main", "strategy": "theirs"})
	p.wait("#merge-result .ok", "Merged dev into main", "")
	p.open("#/object?repo=photos&ref=main&key=hello.txt", "object")
	p.wait("#preview", "dev's hello", "")

	// A tag from main, browsed read-only; a commit reverted on main.
	p.open("#/repo?repo=photos", "repo")
	p.fill("#create-tag", map[string]string{"name": "v1", "from": "main"})
	p.wait("main table:nth-of-type(2)", "v1", "")
	p.open("#/tree?repo=photos&ref=v1", "tree")
	p.wait("main", "Read-only ref", "")
	p.wait("main table", "dev-only.txt", "")
	// Protect dev, then delete the tag (a second click confirms).
	p.open("#/repo?repo=photos", "repo")
	p.click("button[data-action=protect]", "protect")
	p.wait("main table", "protected", "")
	p.click("main table:nth-of-type(2) button[data-action=delete]", "delete")
	p.click("main table:nth-of-type(2) button[data-action=delete]", "click again")
	p.wait("main table:nth-of-type(2)", "nothing here", "")
	p.open("#/tree?repo=photos&ref=main", "tree")
	p.drop(map[string]string{"oops.txt": "by mistake\n"})
	p.wait("#upload-status", "Uploaded 1 file(s)", "")
	p.click("#upload-status a[href^='#/commit']", "")
	p.waitPage("commit")
	p.fill("#revert", map[string]string{"branch": "main"})
	p.wait("#revert", "Reverted on main", "")
	p.open("#/tree?repo=photos&ref=main", "tree")
	if txt := p.wait("main table", "hello.txt", ""); strings.Contains(txt, "oops.txt") {
		t.Fatalf("oops.txt still on main after the revert: %q", txt)
	}

	// Paginated listing: 150 keys under many/ (one commit), 100 a page.
	oc := struct{ ID, Bucket string }{}
	if st, _, body := setup.do("POST", "/api/v1/repos/photos/commits", map[string]string{"branch": "main"}, setup.withCSRF()); st != http.StatusCreated || json.Unmarshal(body, &oc) != nil {
		t.Fatalf("open commit: %d %s", st, body)
	}
	for i := 0; i < 150; i++ {
		if st, _, body := setup.do("PUT", fmt.Sprintf("/%s/many/k%03d", oc.Bucket, i), []byte("x"), setup.withCSRF()); st != http.StatusOK {
			t.Fatalf("put many/k%03d: %d %s", i, st, body)
		}
	}
	var many apiv1.CommitInfo
	if st, _, body := setup.do("POST", "/api/v1/repos/photos/commits/"+oc.ID+"/finish", map[string]string{}, setup.withCSRF()); st != http.StatusOK || json.Unmarshal(body, &many) != nil {
		t.Fatalf("finish: %d %s", st, body)
	}
	// Its changes, 100 a page (the diff's after=).
	p.open("#/commit?repo=photos&id="+many.ID, "commit")
	p.wait("#diff-result", "100 added, 0 changed, 0 removed on this page (more follow)", "")
	p.click("#diff-result a", "more changes")
	p.waitPage("diff")
	if txt := p.wait("#diff-result", "50 added, 0 changed, 0 removed on this page", ""); !strings.Contains(txt, "many/k149") || strings.Contains(txt, "many/k099") {
		t.Fatalf("second page of the diff: %q", txt)
	}
	p.open("#/tree?repo=photos&ref=main&prefix=many%2F", "tree")
	p.wait("main table", "k099", "")
	if n := p.eval(`document.querySelectorAll("main table tbody tr").length`); n != "100" {
		t.Fatalf("first page has %s rows, want 100", n)
	}
	p.click("main a", "next page")
	p.wait("main table", "k149", "document.querySelectorAll('main table tbody tr').length === 50")

	// A history longer than a page: 110 commits, 100 a page.
	adminCall(t, srv, "POST", "/repos", map[string]string{"name": "hist"}, http.StatusCreated, nil)
	for i := 0; i < 110; i++ {
		if st, _, body := setup.do("PUT", fmt.Sprintf("/hist/k%03d", i), []byte("x"), setup.withCSRF()); st != http.StatusOK {
			t.Fatalf("put hist/k%03d: %d %s", i, st, body)
		}
	}
	p.open("#/log?repo=hist&ref=main", "log")
	p.wait("main table", "k109", "document.querySelectorAll('main table tbody tr').length === 100")
	p.click("main a", "older")
	// 11 older: k009..k000 and the repo's first (empty) commit.
	p.wait("main table", "", "document.querySelectorAll('main table tbody tr').length === 11")
	p.open("#/log?repo=hist&ref=main&path=k005", "log")
	if txt := p.wait("main table", "", "document.querySelectorAll('main table tbody tr').length === 1"); strings.Contains(txt, "k006") {
		t.Fatalf("history of key k005: %q", txt)
	}

	// The repo list's size and key count of main (the admin API's
	// objects and size): hist holds 110 one-byte keys.
	var hist apiv1.RepoInfo
	adminCall(t, srv, "GET", "/repos/hist", nil, http.StatusOK, &hist)
	if hist.Objects != 110 || hist.Size != 110 {
		t.Fatalf("GET /repos/hist: objects %d size %d, want 110 and 110", hist.Objects, hist.Size)
	}
	p.open("#/repos", "repos")
	p.wait("main table", "110 B · 110 keys", "")
	p.screenshot("repos")

	// A key with more versions than a page: 105 versions of one key (and
	// a longer key after it), 100 a page, next and previous.
	adminCall(t, srv, "POST", "/repos", map[string]string{"name": "vers"}, http.StatusCreated, nil)
	for i := 0; i < 105; i++ {
		if st, _, body := setup.do("PUT", "/vers/same.txt", []byte(fmt.Sprintf("v%03d", i)), setup.withCSRF()); st != http.StatusOK {
			t.Fatalf("put vers/same.txt #%d: %d %s", i, st, body)
		}
	}
	if st, _, body := setup.do("PUT", "/vers/same.txt.bak", []byte("other key"), setup.withCSRF()); st != http.StatusOK {
		t.Fatalf("put vers/same.txt.bak: %d %s", st, body)
	}
	rows := `document.querySelectorAll('#versions table tbody tr').length`
	p.open("#/object?repo=vers&ref=main&key=same.txt", "object")
	p.wait("#versions-pager", "versions 1–100", rows+" === 100")
	p.wait("#versions table", "current", "")
	p.click("#versions-next", "older")
	p.wait("#versions-pager", "versions 101–105", rows+" === 5")
	if n := p.eval(`document.querySelectorAll("#versions-next").length`); n != "0" {
		t.Fatalf("a next button on the last page of versions")
	}
	if txt := p.wait("#versions table", "", ""); strings.Contains(txt, "current") {
		t.Fatalf("the current version on the second page: %q", txt)
	}
	p.click("#versions-prev", "newer")
	p.wait("#versions-pager", "versions 1–100", rows+" === 100")

	// The pipeline, its job with the failed datum's log, and the
	// provenance graph of its output.
	p.open("#/pipelines", "pipelines")
	p.wait("main table", "upper", "")
	p.click("main table a", "upper")
	p.waitPage("pipeline")
	// Wait for the job to end (partial: a.txt done, bad.txt failed).
	for i := 0; ; i++ {
		p.open("#/pipeline?name=upper", "pipeline")
		txt := p.wait("main table", "", "")
		if strings.Contains(txt, "partial") {
			break
		}
		if i > 300 {
			t.Fatalf("the pipeline's job did not end: %s", txt)
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.screenshot("pipeline")
	p.click("main table a[href^='#/job']", "")
	p.waitPage("job")
	p.wait("#failed-logs", "cannot read", "")
	p.wait("#job-state", "partial", "")
	p.screenshot("job")
	// The job's output commit names its job and input commit, as links.
	p.click("main table a[href^='#/tree?repo=upper']", "upper@main")
	p.waitPage("tree")
	p.click("main a[href^='#/commit']", "")
	p.waitPage("commit")
	p.wait("main table", "tusk-job", "")
	p.click("main .inputs a", "raw@")
	p.waitPage("commit")
	p.wait("main table", "put", "")
	for i := 0; ; i++ { // shout runs after upper's job
		var pl struct{ State string }
		adminCall(t, srv, "GET", "/pipelines/shout", nil, http.StatusOK, &pl)
		if pl.State == "idle" {
			break
		}
		if i > 300 {
			t.Fatalf("shout still %s", pl.State)
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.open("#/prov?repo=upper&ref=main&key=a.txt", "prov")
	p.wait("#prov-graph", "raw:a.txt", "")
	p.wait("#prov-graph", "upper:a.txt", "")
	p.wait("#prov-graph", "shout:a.txt", "")
	p.screenshot("provenance")
	p.click("#prov-graph a", "raw:a.txt")
	p.waitPage("object")
	p.wait("#preview", "apple", "")

	// The provenance graph of upper's output commit: raw's commit (the
	// job's input) upstream, shout's output commit downstream.
	var ulog apiv1.LogResult
	adminCall(t, srv, "GET", "/repos/upper/log?limit=1", nil, http.StatusOK, &ulog)
	out := ulog.Commits[0].ID
	var cp apiv1.CommitProv
	adminCall(t, srv, "GET", "/repos/upper/commit-prov?ref="+out, nil, http.StatusOK, &cp)
	depths := map[string]int{}
	for _, n := range cp.Nodes {
		depths[n.Repo] = n.Depth
	}
	if len(cp.Nodes) != 3 || depths["raw"] != -1 || depths["upper"] != 0 || depths["shout"] != 1 || len(cp.Edges) != 2 {
		t.Fatalf("commit-prov of upper@%s: %+v", out, cp)
	}
	// eve, granted read on upper only, sees upper's commit alone.
	adminCall(t, srv, "PUT", "/users/eve/perms/upper", map[string]string{"permission": "read"}, http.StatusOK, nil)
	var eveCP apiv1.CommitProv
	keyCall(t, srv, eveKey, eveSecret, "GET", "/repos/upper/commit-prov?ref="+out, nil, http.StatusOK, &eveCP)
	if len(eveCP.Nodes) != 1 || eveCP.Nodes[0].Repo != "upper" || len(eveCP.Edges) != 0 {
		t.Fatalf("commit-prov for a reader of upper only: %+v", eveCP)
	}
	adminCall(t, srv, "DELETE", "/users/eve/perms/upper", nil, http.StatusOK, nil)
	p.open("#/commit?repo=upper&id="+out, "commit")
	p.click("main a", "provenance graph of this commit")
	p.waitPage("commitprov")
	p.wait("#commit-prov-graph", "raw@", "")
	p.wait("#commit-prov-graph", "upper@"+out[:12], "")
	p.wait("#commit-prov-graph", "shout@", "document.querySelectorAll('#commit-prov-graph path').length === 2")
	p.screenshot("commit-provenance")
	p.click("#commit-prov-graph a", "shout@")
	p.waitPage("commit")
	p.wait("main table", "tusk-inputs", "")

	// Admin pages.
	p.open("#/users", "users")
	p.wait("main table", "eve", "")
	p.fill("#create-user", map[string]string{"name": "frank"})
	p.wait("#new-secret", "shown only now", "")
	p.fill("#grant", map[string]string{"user": "frank", "repo": "photos", "level": "read"})
	p.wait("main table", "photos: read", "")
	p.screenshot("users")
	p.open("#/audit", "audit")
	p.wait("main table", "repo.create", "")
	p.screenshot("audit")

	// A request forged from the page without the CSRF token is refused.
	st := p.eval(`fetch("/api/v1/repos", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({name: "forged"})}).then(r => r.status)`)
	if st != "403" {
		t.Fatalf("a POST without the CSRF token answered %s, want 403", st)
	}

	// Sign out: back to the sign-in page, and the session is gone.
	p.click("#signout", "Sign out")
	p.waitPage("login")
	if st := p.eval(`fetch("/api/v1/whoami").then(r => r.status)`); st != "403" {
		t.Fatalf("whoami after sign out answered %s, want 403", st)
	}

	// eve (no permission on any repo) sees none of them.
	p.fill("#login", map[string]string{"access_key": eveKey, "secret_key": eveSecret})
	p.waitPage("repos")
	txt := p.wait("main table", "nothing here", "")
	for _, repo := range []string{"photos", "raw", "upper"} {
		if strings.Contains(txt, repo) {
			t.Fatalf("eve sees repo %s: %q", repo, txt)
		}
	}
	p.eval(`location.hash = "#/tree?repo=photos&ref=main"; true`)
	for i := 0; ; i++ {
		txt := p.eval(`document.querySelector("main").innerText`)
		if strings.Contains(txt, "Error") && strings.Contains(txt, "access denied") {
			break
		}
		if i > 100 {
			t.Fatalf("eve opening photos: %q, want an access denied error", txt)
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.screenshot("no-permission")
}
