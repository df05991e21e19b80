package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// TestImage builds the image as `make image` does (a static tusk binary,
// then this command) and checks the OCI tarball: its entrypoint, its
// non-root user, and that the layer's /tusk is the static, executable tusk
// binary.
func TestImage(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "tusk-static")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "github.com/tusk-data/tusk/cmd/tusk")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	want, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "tusk-image.tar")
	if err := build(bin, out, "tusk:test"); err != nil {
		t.Fatal(err)
	}
	// Unpack the tarball and read it as an OCI layout.
	lay := filepath.Join(dir, "layout")
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(lay, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		b, _ := io.ReadAll(tr)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := layout.ImageIndexFromPath(lay)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "tusk:test" {
		t.Fatalf("index %+v %v", im, err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cf.Config.Entrypoint, " ") != "/tusk" || cf.Config.User != "65532:65532" || cf.OS != "linux" {
		t.Errorf("config: entrypoint %q user %q os %q", cf.Config.Entrypoint, cf.Config.User, cf.OS)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers, %v; want one", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	lt := tar.NewReader(rc)
	h, err := lt.Next()
	if err != nil || h.Name != "tusk" || h.Mode&0o111 == 0 || h.Mode&0o022 != 0 {
		t.Fatalf("layer entry %+v %v; want tusk, executable, not writable by others", h, err)
	}
	got, _ := io.ReadAll(lt)
	if !bytes.Equal(got, want) {
		t.Fatal("the layer's /tusk is not the binary built")
	}
	ef, err := elf.NewFile(bytes.NewReader(got))
	if err != nil {
		t.Fatalf("/tusk is not an ELF file: %v", err)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("/tusk is dynamically linked; the image has no libc")
		}
	}
	if _, err := lt.Next(); err != io.EOF {
		t.Errorf("the layer holds more than /tusk: %v", err)
	}
	// It is the tusk binary: it runs and says so.
	exe := filepath.Join(dir, "from-layer")
	if err := os.WriteFile(exe, got, 0o755); err != nil {
		t.Fatal(err)
	}
	o, err := exec.Command(exe, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(o), "tusk") || !strings.Contains(string(o), "serve") {
		t.Errorf("the binary of the image: %v\n%s", err, o)
	}
}
