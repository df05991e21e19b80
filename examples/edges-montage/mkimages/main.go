// Command mkimages writes sample PNG images for the edges-montage example
// (no download needed): circle.png, square.png, stripes.png, rings.png,
// and, with -n 5 or more, more of them.
//
//	go run ./examples/edges-montage/mkimages [-n 4] [-size 128] DIR
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
)

var names = []string{"circle", "square", "stripes", "rings", "diamond", "checks", "gradient", "cross"}

func main() {
	n := flag.Int("n", 4, "how many images")
	size := flag.Int("size", 128, "width and height")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: mkimages [-n 4] [-size 128] DIR")
		os.Exit(2)
	}
	dir := flag.Arg(0)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for i := 0; i < *n; i++ {
		name := names[i%len(names)]
		if i >= len(names) {
			name = fmt.Sprintf("%s%d", name, i/len(names))
		}
		p := filepath.Join(dir, name+".png")
		if err := write(p, i%len(names), *size); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(p)
	}
}

func write(p string, kind, s int) error {
	img := image.NewRGBA(image.Rect(0, 0, s, s))
	c := float64(s) / 2
	for y := 0; y < s; y++ {
		for x := 0; x < s; x++ {
			dx, dy := float64(x)-c, float64(y)-c
			r := math.Hypot(dx, dy)
			on := false
			switch kind {
			case 0:
				on = r < c*0.6
			case 1:
				on = math.Abs(dx) < c*0.5 && math.Abs(dy) < c*0.5
			case 2:
				on = (x/(s/8))%2 == 0
			case 3:
				on = int(r/(c/5))%2 == 0
			case 4:
				on = math.Abs(dx)+math.Abs(dy) < c*0.7
			case 5:
				on = ((x/(s/6))+(y/(s/6)))%2 == 0
			case 6:
				on = x+y > s
			default:
				on = math.Abs(dx) < c*0.15 || math.Abs(dy) < c*0.15
			}
			col := color.RGBA{uint8(40 + 3*kind), uint8(x * 255 / s), uint8(y * 255 / s), 255}
			if on {
				col = color.RGBA{240, uint8(200 - 20*kind), 60, 255}
			}
			img.Set(x, y, col)
		}
	}
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
