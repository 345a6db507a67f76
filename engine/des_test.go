package engine

import (
	"crypto/cipher"
	"crypto/des"
	"testing"
)

func tdesBlock(t *testing.T, k16 []byte) cipher.Block {
	b, err := des.NewTripleDESCipher(append(append([]byte(nil), k16...), k16[:8]...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
