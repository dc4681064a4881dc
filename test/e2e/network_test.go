package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Each e2e daemon has its own default bridge, nftables table and
// subnets (inside 10.201.0.0/16), so runs side by side never share them.
var (
	e2eBridge = fmt.Sprintf("gne%d", os.Getpid()%100000)
	e2eTable  = "gorae-" + e2eBridge
)

func networkFlags() []string {
	n := os.Getpid()
	return []string{
		"--bridge", e2eBridge,
		"--bip", fmt.Sprintf("10.201.%d.1/24", 32+n%32),
		"--default-address-pool", fmt.Sprintf("base=10.201.%d.0/22,size=24", 64+(n%16)*4),
		"--bridge-prefix", "gnx",
	}
}

// retry runs the docker command until it succeeds (a server in a
// container takes a moment to listen).
func retry(t *testing.T, args ...string) string {
	t.Helper()
	var out string
	var err error
	for i := 0; i < 50; i++ {
		if out, err = docker(nil, args...); err == nil {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	return ""
}

const httpdCmd = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"

func TestNetworkNameResolution(t *testing.T) {
	must(t, "network", "create", "e2enet")
	defer docker(nil, "network", "rm", "e2enet")
	must(t, "run", "-d", "--name", "srv", "--hostname", "srvhost", "--network", "e2enet", "--network-alias", "web", "busybox", "sh", "-c", httpdCmd)
	defer docker(nil, "rm", "-f", "srv")
	// The namespace is a file the runtime joins by path: runc too.
	for name, runtime := range map[string]string{"srv": "gorae", "web": "runc"} {
		if out := retry(t, "run", "--rm", "--runtime", runtime, "--network", "e2enet", "busybox", "wget", "-qO-", "http://"+name+"/"); out != "srvhost\n" {
			t.Errorf("wget http://%s/: %q", name, out)
		}
	}
	// The short ID resolves too, and /etc/hosts has the --add-host line.
	id := strings.TrimSpace(must(t, "inspect", "-f", "{{.Id}}", "srv"))[:12]
	if out := must(t, "run", "--rm", "--network", "e2enet", "--add-host", "db:10.201.255.9", "busybox", "sh", "-c", "nslookup "+id+" 127.0.0.11 >/dev/null && grep db /etc/hosts"); !strings.Contains(out, "10.201.255.9\tdb") {
		t.Errorf("short id / add-host: %q", out)
	}
	ip := strings.TrimSpace(must(t, "inspect", "-f", "{{.NetworkSettings.Networks.e2enet.IPAddress}}", "srv"))
	if ins := must(t, "network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}", "e2enet"); !strings.HasPrefix(ins, "srv "+ip+"/") {
		t.Errorf("network inspect containers: %q (ip %s)", ins, ip)
	}
	if ps := must(t, "ps", "--filter", "network=e2enet", "--format", "{{.Names}}"); ps != "srv\n" {
		t.Errorf("ps --filter network: %q", ps)
	}
	// A stopped container can be connected; a running one disconnected.
	must(t, "network", "create", "--subnet", "10.201.250.0/24", "e2enet2")
	defer docker(nil, "network", "rm", "e2enet2")
	must(t, "network", "connect", "--ip", "10.201.250.77", "e2enet2", "srv")
	if out := must(t, "exec", "srv", "ip", "-o", "-4", "addr"); !strings.Contains(out, "10.201.250.77/24") {
		t.Errorf("after connect: %s", out)
	}
	must(t, "network", "disconnect", "e2enet2", "srv")
	if out := must(t, "exec", "srv", "ip", "-o", "-4", "addr"); strings.Contains(out, "10.201.250.77") {
		t.Errorf("after disconnect: %s", out)
	}
	// Networks are isolated from each other, not within themselves.
	must(t, "run", "--rm", "--network", "e2enet", "busybox", "ping", "-c1", "-W2", ip)
	if out, err := docker(nil, "run", "--rm", "--network", "e2enet2", "busybox", "ping", "-c1", "-W1", ip); err == nil {
		t.Errorf("a container on e2enet2 reached %s on e2enet: %s", ip, out)
	}
	if out, err := docker(nil, "network", "rm", "e2enet"); err == nil || !strings.Contains(out, "active endpoints") {
		t.Errorf("rm of a network in use: %v %s", err, out)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 3 * time.Second}
	var last error
	for i := 0; i < 50; i++ {
		resp, err := c.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

func TestPublishLoopback(t *testing.T) {
	port := freePort(t)
	must(t, "run", "-d", "--name", "pub", "--hostname", "pubhost", "-p", "127.0.0.1:"+port+":80", "busybox", "sh", "-c", httpdCmd)
	defer docker(nil, "rm", "-f", "pub")
	if body := httpGet(t, "http://127.0.0.1:"+port+"/"); body != "pubhost\n" {
		t.Errorf("GET published port: %q", body)
	}
	if out := must(t, "port", "pub"); out != "80/tcp -> 127.0.0.1:"+port+"\n" {
		t.Errorf("docker port: %q", out)
	}
	if out := must(t, "ps", "--filter", "publish="+port, "--format", "{{.Ports}}"); out != "127.0.0.1:"+port+"->80/tcp\n" {
		t.Errorf("ps ports: %q", out)
	}
	// The same host port again: a clear error, and nothing half-made.
	out, err := docker(nil, "run", "--rm", "--name", "pub2", "-p", "127.0.0.1:"+port+":80", "busybox", "true")
	if exitCode(err) != 125 || !strings.Contains(out, "already allocated") {
		t.Errorf("second publish of %s: exit %d: %s", port, exitCode(err), out)
	}
	if ls, _ := os.ReadDir(filepath.Join(execRoot, "netns")); len(ls) != 1 {
		t.Errorf("netns files after a failed start: %d, want 1", len(ls))
	}
}

func TestNetworkNone(t *testing.T) {
	out := must(t, "run", "--rm", "--network", "none", "busybox", "ip", "-o", "link")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "lo:") {
		t.Errorf("--network none has: %q", out)
	}
	if out := must(t, "run", "--rm", "--network", "host", "busybox", "cat", "/etc/hostname"); strings.TrimSpace(out) == "" {
		t.Errorf("--network host hostname: %q", out)
	}
	must(t, "run", "-d", "--name", "nsowner", "busybox", "sleep", "60")
	defer docker(nil, "rm", "-f", "nsowner")
	ip := strings.TrimSpace(must(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", "nsowner"))
	if out := must(t, "run", "--rm", "--network", "container:nsowner", "busybox", "ip", "-o", "-4", "addr"); !strings.Contains(out, ip+"/") {
		t.Errorf("container: network mode sees %q, want %s", out, ip)
	}
}

// bridgeMembers are the interfaces enslaved to this daemon's bridges.
func leftovers(t *testing.T) string {
	t.Helper()
	var found []string
	out, _ := exec.Command("ip", "-o", "link", "show", "type", "veth").CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "master "+e2eBridge+" ") || strings.Contains(l, "master gnx") {
			found = append(found, l)
		}
	}
	if ls, _ := os.ReadDir(filepath.Join(execRoot, "netns")); len(ls) > 0 {
		found = append(found, fmt.Sprintf("%d netns files", len(ls)))
	}
	rules, _ := exec.Command("nft", "list", "chain", "ip", e2eTable, "ports").CombinedOutput()
	if strings.Contains(string(rules), "dnat") {
		found = append(found, string(rules))
	}
	bridges, _ := exec.Command("ip", "-o", "link", "show", "type", "bridge").CombinedOutput()
	if strings.Contains(string(bridges), ": gnx") {
		found = append(found, "user network bridge left")
	}
	return strings.Join(found, "\n")
}

func TestNoNetworkLeftovers(t *testing.T) {
	must(t, "network", "create", "e2eleft")
	must(t, "run", "-d", "--name", "l1", "--network", "e2eleft", "-p", "127.0.0.1::80", "busybox", "sleep", "60")
	must(t, "run", "-d", "--name", "l2", "-P", "--expose", "81", "busybox", "sleep", "60")
	if out := must(t, "port", "l2"); !strings.HasPrefix(out, "81/tcp -> 0.0.0.0:") {
		t.Errorf("-P: %q", out)
	}
	// A start that fails after the network was made undoes it.
	if _, err := docker(nil, "run", "--rm", "--network", "e2eleft", "-p", "127.0.0.1::80", "busybox", "/no/such/program"); exitCode(err) != 127 {
		t.Errorf("failed start: exit %d, want 127", exitCode(err))
	}
	// An internal network: no default route out.
	must(t, "network", "create", "--internal", "e2einternal")
	if out := must(t, "run", "--rm", "--network", "e2einternal", "busybox", "ip", "route"); strings.Contains(out, "default") {
		t.Errorf("internal network has a default route: %q", out)
	}
	must(t, "rm", "-f", "l1", "l2")
	must(t, "network", "rm", "e2eleft", "e2einternal")
	if l := leftovers(t); l != "" {
		t.Errorf("left after rm: %s", l)
	}
}

// Addresses, published ports and name resolution survive kill -9 of the
// daemon: the rules are in the kernel; DNS comes back with the daemon.
func TestNetworkLiveRestore(t *testing.T) {
	must(t, "network", "create", "e2elive")
	defer docker(nil, "network", "rm", "e2elive")
	port := freePort(t)
	must(t, "run", "-d", "--name", "keep", "--hostname", "keephost", "--network", "e2elive", "-p", "127.0.0.1:"+port+":80", "busybox", "sh", "-c", httpdCmd)
	defer docker(nil, "rm", "-f", "keep")
	ip := must(t, "inspect", "-f", "{{.NetworkSettings.Networks.e2elive.IPAddress}}", "keep")
	httpGet(t, "http://127.0.0.1:"+port+"/")
	daemon.Kill()
	if body := httpGet(t, "http://127.0.0.1:"+port+"/"); body != "keephost\n" {
		t.Errorf("published port while the daemon is down: %q", body)
	}
	if err := startDaemon(); err != nil {
		t.Fatal(err)
	}
	if got := must(t, "inspect", "-f", "{{.NetworkSettings.Networks.e2elive.IPAddress}}", "keep"); got != ip {
		t.Errorf("address after restart %q, was %q", got, ip)
	}
	if out := retry(t, "run", "--rm", "--network", "e2elive", "busybox", "wget", "-qO-", "http://keep/"); out != "keephost\n" {
		t.Errorf("by name after restart: %q", out)
	}
	// A new container gets another address.
	if other := must(t, "run", "--rm", "--network", "e2elive", "busybox", "sh", "-c", "ip -o -4 addr show eth0 | awk '{print $4}'"); strings.HasPrefix(other, strings.TrimSpace(ip)+"/") {
		t.Errorf("address %s handed out twice", ip)
	}
}

func TestNetworkAPIErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"network", "rm", "bridge"}, "pre-defined network"},
		{[]string{"network", "create", "--subnet", "10.201.300.0/24", "bad"}, "invalid"},
		{[]string{"network", "inspect", "nosuchnet"}, "not found"},
		{[]string{"network", "create", "--subnet", "10.201.240.0/24", "dup1"}, ""},
		{[]string{"network", "create", "--subnet", "10.201.240.128/25", "dup2"}, "overlaps"},
		{[]string{"network", "create", "dup1"}, "already exists"},
		{[]string{"run", "--rm", "--ip", "10.201.33.200", "busybox", "true"}, "user defined networks only"},
	} {
		out, err := docker(nil, tc.args...)
		if tc.msg == "" {
			if err != nil {
				t.Fatalf("docker %s: %v %s", strings.Join(tc.args, " "), err, out)
			}
			continue
		}
		if err == nil || !strings.Contains(out, tc.msg) {
			t.Errorf("docker %s: %v %q, want %q", strings.Join(tc.args, " "), err, out, tc.msg)
		}
	}
	if out := must(t, "network", "ls", "--filter", "type=custom", "--format", "{{.Name}}"); out != "dup1\n" {
		t.Errorf("ls type=custom: %q", out)
	}
	if out := must(t, "network", "prune", "-f"); !strings.Contains(out, "dup1") {
		t.Errorf("prune: %q", out)
	}
}
