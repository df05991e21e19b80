// Command tusk-montage is the montage pipeline of the edges-montage
// example: it lays out every image under its input directories (sorted by
// path) as thumbnails in a grid on a sky-blue background and writes
// montage.png to the output directory.
//
//	tusk-montage [-out DIR] [-size N] [INPUT_DIR...]
//
// Defaults: inputs $TUSK_PFS/images and $TUSK_PFS/edges (or /pfs/...),
// output $TUSK_PFS/out (or /pfs/out).
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif"
	_ "image/jpeg"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
)

func pfs() string {
	if p := os.Getenv("TUSK_PFS"); p != "" {
		return p
	}
	return "/pfs"
}

func main() {
	out := flag.String("out", filepath.Join(pfs(), "out"), "output directory")
	size := flag.Int("size", 150, "thumbnail size in pixels")
	flag.Parse()
	ins := flag.Args()
	if len(ins) == 0 {
		ins = []string{filepath.Join(pfs(), "images"), filepath.Join(pfs(), "edges")}
	}
	var files []string
	for _, in := range ins {
		_ = filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, p)
			}
			return nil
		})
	}
	sort.Strings(files)
	if len(files) == 0 {
		fmt.Println("montage: no images")
		return
	}
	cols := int(math.Ceil(math.Sqrt(float64(len(files)))))
	rows := (len(files) + cols - 1) / cols
	const pad = 4
	s := *size
	canvas := image.NewRGBA(image.Rect(0, 0, cols*(s+pad)+pad, rows*(s+pad)+pad))
	draw.Draw(canvas, canvas.Bounds(), image.NewUniform(color.RGBA{135, 206, 235, 255}), image.Point{}, draw.Src)
	for i, p := range files {
		img, err := load(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "tusk-montage: %s: %v\n", p, err)
			os.Exit(1)
		}
		x0, y0 := pad+(i%cols)*(s+pad), pad+(i/cols)*(s+pad)
		b := img.Bounds()
		for y := 0; y < s; y++ {
			for x := 0; x < s; x++ {
				canvas.Set(x0+x, y0+y, img.At(b.Min.X+x*b.Dx()/s, b.Min.Y+y*b.Dy()/s))
			}
		}
		fmt.Printf("montage: %s\n", p)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "tusk-montage:", err)
		os.Exit(1)
	}
	f, err := os.Create(filepath.Join(*out, "montage.png"))
	if err == nil {
		err = png.Encode(f, canvas)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tusk-montage:", err)
		os.Exit(1)
	}
	fmt.Printf("montage: %d images\n", len(files))
}

func load(p string) (image.Image, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	return img, err
}
