// Package examples holds runnable examples of Tusk. Each directory has a
// README; edges-montage is Pachyderm's beginner tutorial rebuilt on Tusk
// with small Go programs (a Sobel edge filter and a montage compositor).
package examples
