package cli

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func (c *CLI) cpCommand() *cobra.Command {
	var followLink, archive, quiet bool
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tgorae cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Args:  requiresExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			srcCtr, srcPath := splitCpArg(args[0])
			dstCtr, dstPath := splitCpArg(args[1])
			switch {
			case srcCtr != "" && dstCtr != "":
				return errors.New("copying between containers is not supported")
			case srcCtr == "" && dstCtr == "":
				return errors.New("must specify at least one container source")
			}
			api, err := c.Client(ctx)
			if err != nil {
				return err
			}
			if srcCtr != "" {
				return c.copyFrom(ctx, api, srcCtr, srcPath, dstPath, followLink)
			}
			return c.copyTo(ctx, api, srcPath, dstCtr, dstPath, followLink, archive)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&followLink, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	fl.BoolVarP(&archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return cmd
}

// splitCpArg splits CONTAINER:PATH; a local path with a colon must start
// with / or . as in docker.
func splitCpArg(arg string) (ctr, p string) {
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") {
		return "", arg
	}
	if i := strings.Index(arg, ":"); i > 0 {
		return arg[:i], arg[i+1:]
	}
	return "", arg
}

// copyFrom: the container sends a tar whose top entry is the source's
// base name; it lands in dst (an existing directory) or becomes dst.
func (c *CLI) copyFrom(ctx context.Context, api *client.Client, ctr, src, dst string, follow bool) error {
	if follow {
		if st, err := api.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: src}); err == nil && st.Stat.LinkTarget != "" {
			src = st.Stat.LinkTarget
		}
	}
	r, err := api.CopyFromContainer(ctx, ctr, client.CopyFromContainerOptions{SourcePath: src})
	if err != nil {
		return err
	}
	defer r.Content.Close()
	if dst == "-" {
		_, err := io.Copy(c.out, r.Content)
		return err
	}
	name := r.Stat.Name
	target := dst
	if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
		target = filepath.Join(dst, name)
	} else if strings.HasSuffix(dst, "/") {
		return fmt.Errorf("destination directory %q does not exist", dst)
	}
	return extractTar(r.Content, name, target)
}

// extractTar writes entries under prefix (the archive's top name) to
// target, refusing any path that would leave it.
func extractTar(r io.Reader, prefix, target string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		rest, ok := strings.CutPrefix(rel, prefix)
		if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
			continue
		}
		p := filepath.Join(target, filepath.FromSlash(rest))
		if p != target && !strings.HasPrefix(p, filepath.Clean(target)+string(os.PathSeparator)) {
			return fmt.Errorf("archive entry %q escapes %s", h.Name, target)
		}
		mode := fs.FileMode(h.Mode) & fs.ModePerm
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, mode|0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			os.Remove(p)
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		default:
			// Devices, fifos and hard links are skipped, as an unprivileged
			// docker cp would fail on them.
			continue
		}
		os.Chtimes(p, h.ModTime, h.ModTime)
	}
}

// copyTo: tar the local source under the name it must have in the
// container and extract it in the destination's directory.
func (c *CLI) copyTo(ctx context.Context, api *client.Client, src, ctr, dst string, follow, archive bool) error {
	if src == "-" {
		_, err := api.CopyToContainer(ctx, ctr, client.CopyToContainerOptions{DestinationPath: dst, Content: c.in, CopyUIDGID: archive})
		return err
	}
	statFn := os.Lstat
	if follow {
		statFn = os.Stat
	}
	fi, err := statFn(src)
	if err != nil {
		return err
	}
	dstDir, name := dst, filepath.Base(src)
	st, err := api.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: dst})
	switch {
	case err == nil && st.Stat.Mode.IsDir():
	case err == nil:
		if fi.IsDir() {
			return fmt.Errorf("cannot copy a directory to a file: %s", dst)
		}
		dstDir, name = path.Dir(dst), path.Base(dst)
	case isNotFound(err):
		if strings.HasSuffix(dst, "/") {
			return fmt.Errorf("destination directory %q does not exist in the container", dst)
		}
		dstDir, name = path.Dir(dst), path.Base(dst)
	default:
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, src, name, follow)) }()
	_, err = api.CopyToContainer(ctx, ctr, client.CopyToContainerOptions{DestinationPath: dstDir, Content: pr, CopyUIDGID: archive})
	pr.Close()
	return err
}

func writeTar(w io.Writer, src, name string, follow bool) error {
	tw := tar.NewWriter(w)
	root := filepath.Clean(src)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if p == root && follow {
			fi, err = os.Stat(p)
		}
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		h.Name = filepath.ToSlash(filepath.Join(name, rel))
		if fi.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
