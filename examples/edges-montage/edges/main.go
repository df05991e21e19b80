// Command tusk-edges is the edges pipeline of the edges-montage example: it
// finds the edges of every image under its input directories with a Sobel
// filter and writes them, as PNG, under the output directory with the same
// relative path (extension .png).
//
//	tusk-edges [-out DIR] [INPUT_DIR...]
//
// Defaults: inputs $TUSK_PFS/images (or /pfs/images), output $TUSK_PFS/out
// (or /pfs/out), so it runs unchanged as a Tusk or Pachyderm pipeline.
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	_ "image/gif"
	_ "image/jpeg"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
)

func pfs() string {
	if p := os.Getenv("TUSK_PFS"); p != "" {
		return p
	}
	return "/pfs"
}

func main() {
	out := flag.String("out", filepath.Join(pfs(), "out"), "output directory")
	flag.Parse()
	ins := flag.Args()
	if len(ins) == 0 {
		ins = []string{filepath.Join(pfs(), "images")}
	}
	n := 0
	for _, in := range ins {
		err := filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(in, p)
			dst := filepath.Join(*out, strings.TrimSuffix(rel, filepath.Ext(rel))+".png")
			if err := edges(p, dst); err != nil {
				return fmt.Errorf("%s: %v", p, err)
			}
			fmt.Printf("edges: %s -> %s\n", p, dst)
			n++
			return nil
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "tusk-edges:", err)
			os.Exit(1)
		}
	}
	fmt.Printf("edges: %d images\n", n)
}

// edges writes the Sobel gradient magnitude of the image at src to dst.
func edges(src, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	img, _, err := image.Decode(f)
	f.Close()
	if err != nil {
		return err
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	gray := make([]float64, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			gray[y*w+x] = float64(color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y)
		}
	}
	at := func(x, y int) float64 {
		x = min(max(x, 0), w-1)
		y = min(max(y, 0), h-1)
		return gray[y*w+x]
	}
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			gx := -at(x-1, y-1) - 2*at(x-1, y) - at(x-1, y+1) + at(x+1, y-1) + 2*at(x+1, y) + at(x+1, y+1)
			gy := -at(x-1, y-1) - 2*at(x, y-1) - at(x+1, y-1) + at(x-1, y+1) + 2*at(x, y+1) + at(x+1, y+1)
			out.SetGray(x, y, color.Gray{Y: uint8(min(255, math.Hypot(gx, gy)))})
		}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	o, err := os.Create(dst)
	if err != nil {
		return err
	}
	if err := png.Encode(o, out); err != nil {
		o.Close()
		return err
	}
	return o.Close()
}
