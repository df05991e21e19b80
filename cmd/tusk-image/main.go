// Command tusk-image builds Tusk's container image offline, without a
// Docker engine: an empty base, one layer holding the static tusk binary at
// /tusk, a config whose entrypoint is ["/tusk"] and whose user is
// 65532:65532 (non-root), written as an OCI image layout in a tarball
// (`make image`: bin/tusk-image.tar; load it with `skopeo copy
// oci-archive:bin/tusk-image.tar ...` or `podman load`). The Dockerfile
// builds the same image for users with Docker.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// User is the image's user: non-root (the distroless "nonroot" ids).
const User = "65532:65532"

func main() {
	bin := flag.String("binary", "bin/tusk-static", "the static tusk binary (CGO_ENABLED=0)")
	out := flag.String("out", "bin/tusk-image.tar", "the OCI layout tarball to write")
	tag := flag.String("tag", "ghcr.io/tusk-data/tusk:dev", "the image's reference name (org.opencontainers.image.ref.name)")
	flag.Parse()
	if err := build(*bin, *out, *tag); err != nil {
		fmt.Fprintf(os.Stderr, "tusk-image: %v\n", err)
		os.Exit(1)
	}
}

// Image returns the image of binary: one layer with /tusk (mode 0755,
// owned by root, not writable by the user).
func Image(binary []byte) (v1.Image, error) {
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	epoch := time.Unix(0, 0)
	if err := tw.WriteHeader(&tar.Header{Name: "tusk", Mode: 0o755, Size: int64(len(binary)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(binary); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := layer.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, l)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goarch()
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Entrypoint = []string{"/tusk"}
	cf.Config.Cmd = []string{"serve", "--addr=0.0.0.0:9000", "--data-dir=/data"}
	cf.Config.User = User
	cf.Config.WorkingDir = "/"
	cf.Config.ExposedPorts = map[string]struct{}{"9000/tcp": {}}
	cf.Config.Labels = map[string]string{"org.opencontainers.image.source": "https://github.com/tusk-data/tusk"}
	return mutate.ConfigFile(img, cf)
}

func build(binPath, out, tag string) error {
	binary, err := os.ReadFile(binPath)
	if err != nil {
		return err
	}
	img, err := Image(binary)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(filepath.Dir(out), ".tusk-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
		return err
	}
	return tarDir(dir, out)
}

// tarDir writes the files under dir into the tarball out (paths relative
// to dir), as oci-archive expects.
func tarDir(dir, out string) error {
	f, err := os.Create(out + ".tmp")
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname = filepath.ToSlash(rel), time.Unix(0, 0), 0, 0, "", ""
		if fi.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			src, err := os.Open(p)
			if err != nil {
				return err
			}
			defer src.Close()
			_, err = io.Copy(tw, src)
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out + ".tmp")
		return err
	}
	return os.Rename(out+".tmp", out)
}
