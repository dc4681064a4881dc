package resident

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// readOnlyRSS sums the resident kB of the executable's read-only mappings.
func readOnlyRSS(t *testing.T) int {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	total, ours := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-"):
			ours = len(fields) >= 6 && fields[5] == exe && !strings.Contains(fields[1], "w")
		case ours && len(fields) == 3 && fields[0] == "Rss:":
			n, _ := strconv.Atoi(fields[1])
			total += n
		}
	}
	return total
}

func TestTrimGivesBackReadOnlyPages(t *testing.T) {
	// Touch a good part of the binary first.
	for i := 0; i < 3; i++ {
		readOnlyRSS(t)
	}
	before := readOnlyRSS(t)
	Trim()
	after := readOnlyRSS(t)
	t.Logf("read-only mappings of the executable: %d kB resident before, %d kB after", before, after)
	if before == 0 {
		t.Fatal("nothing of the executable resident before the trim: the test measures nothing")
	}
	if after >= before {
		t.Errorf("Trim left %d kB of %d resident", after, before)
	}
}
