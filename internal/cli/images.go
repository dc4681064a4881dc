package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/jsonmessage"
	"github.com/spf13/cobra"
)

// imageCommands: the top-level image verbs and `image`, holding them too.
func (c *CLI) imageCommands() []*cobra.Command {
	group := &cobra.Command{Use: "image", Short: "Manage images", Args: noArgs, RunE: showHelp}
	ls := c.imagesCommand()
	ls.Use, ls.Aliases = "ls [OPTIONS] [REPOSITORY[:TAG]]", []string{"list"}
	rm := c.rmiCommand()
	rm.Use, rm.Aliases = "rm [OPTIONS] IMAGE [IMAGE...]", []string{"remove", "rmi"}
	group.AddCommand(ls, rm, c.imagePruneCommand(), c.imageInspectCommand(), c.historyCommand(), c.tagCommand(),
		c.saveCommand(), c.loadCommand(), c.importCommand(), c.pullCommand(), c.pushCommand(), c.buildCommand())
	return []*cobra.Command{
		c.imagesCommand(), c.rmiCommand(), c.historyCommand(), c.tagCommand(), c.saveCommand(), c.loadCommand(),
		c.importCommand(), c.pullCommand(), c.pushCommand(), c.inspectCommand(), group,
	}
}

type imageRow struct {
	img        image.Summary
	repo, tag  string
	digest     string
	trunc      bool
	showDigest bool
}

func (r imageRow) ID() string {
	if r.trunc {
		return shortID(r.img.ID)
	}
	return r.img.ID
}
func (r imageRow) Repository() string   { return r.repo }
func (r imageRow) Tag() string          { return r.tag }
func (r imageRow) Digest() string       { return r.digest }
func (r imageRow) CreatedSince() string { return humanSince(unixTime(r.img.Created)) }
func (r imageRow) CreatedAt() string    { return unixTime(r.img.Created).String() }
func (r imageRow) Size() string         { return humanSize(r.img.Size) }
func (r imageRow) Containers() string {
	if r.img.Containers < 0 {
		return "N/A"
	}
	return fmt.Sprint(r.img.Containers)
}
func (r imageRow) SharedSize() string {
	if r.img.SharedSize < 0 {
		return "N/A"
	}
	return humanSize(r.img.SharedSize)
}
func (r imageRow) UniqueSize() string {
	if r.img.SharedSize < 0 {
		return "N/A"
	}
	return humanSize(r.img.Size - r.img.SharedSize)
}
func (r imageRow) VirtualSize() string { return humanSize(r.img.Size) }

// MarshalJSON: docker's images json, with its sizes at four digits and
// its HTML escaping.
func (r imageRow) MarshalJSON() ([]byte, error) {
	size := func(n int64) string {
		if n < 0 {
			return "N/A"
		}
		return units.HumanSize(float64(n))
	}
	return json.Marshal(map[string]string{
		"Containers": r.Containers(), "CreatedAt": r.CreatedAt(), "CreatedSince": r.CreatedSince(),
		"Digest": r.Digest(), "ID": r.ID(), "Repository": r.repo, "SharedSize": size(r.img.SharedSize),
		"Size": r.Size(), "Tag": r.tag, "UniqueSize": size(r.img.Size - r.img.SharedSize), "VirtualSize": size(r.img.Size),
	})
}

var imageHeaders = map[string]string{
	"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
	"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
	"SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE",
}

// imageRows expands each image into one row per tag, as docker images does.
func imageRows(items []image.Summary, trunc, digests bool) []any {
	var rows []any
	for _, img := range items {
		digestOf := map[string]string{}
		for _, d := range img.RepoDigests {
			repo, dg, _ := strings.Cut(d, "@")
			digestOf[repo] = dg
		}
		if len(img.RepoTags) == 0 {
			r := imageRow{img: img, repo: "<none>", tag: "<none>", digest: "<none>", trunc: trunc}
			if len(img.RepoDigests) > 0 {
				r.repo, r.digest, _ = strings.Cut(img.RepoDigests[0], "@")
			}
			rows = append(rows, r)
			continue
		}
		for _, rt := range img.RepoTags {
			repo, tag := rt, "<none>"
			if named, err := reference.ParseNormalizedNamed(rt); err == nil {
				repo = reference.FamiliarName(named)
				if t, ok := named.(reference.Tagged); ok {
					tag = t.Tag()
				}
			}
			dg := "<none>"
			if d, ok := digestOf[repo]; ok {
				dg = d
			}
			rows = append(rows, imageRow{img: img, repo: repo, tag: tag, digest: dg, trunc: trunc, showDigest: digests})
		}
	}
	return rows
}

func (c *CLI) imagesCommand() *cobra.Command {
	var o struct {
		all, quiet, noTrunc, digests bool
		format                       string
		filter                       []string
	}
	cmd := &cobra.Command{
		Use:   "images [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  requiresMaxArgs(1),
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			f, err := parseFilters(o.filter)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				f.Add("reference", args[0])
			}
			r, err := api.ImageList(ctx, client.ImageListOptions{All: o.all, Filters: f})
			if err != nil {
				return err
			}
			format := o.format
			if format == "" {
				format = c.configFormat("imagesFormat")
			}
			table := "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			if o.digests {
				table = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			}
			rows := imageRows(r.Items, !o.noTrunc, o.digests)
			if o.quiet {
				// One line per image, not per tag.
				seen := map[string]bool{}
				var uniq []any
				for _, row := range rows {
					id := row.(imageRow).img.ID
					if !seen[id] {
						seen[id] = true
						uniq = append(uniq, row)
					}
				}
				rows = uniq
			}
			return listing{format: format, table: table, quiet: "{{.ID}}", headers: imageHeaders}.render(c.out, o.quiet, rows)
		}),
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.all, "all", "a", false, "Show all images (default hides intermediate images)")
	fl.BoolVar(&o.digests, "digests", false, "Show digests")
	fl.StringArrayVarP(&o.filter, "filter", "f", nil, "Filter output based on conditions provided")
	fl.StringVar(&o.format, "format", "", "Format output using a custom template")
	fl.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	fl.BoolVarP(&o.quiet, "quiet", "q", false, "Only show image IDs")
	return cmd
}

func (c *CLI) rmiCommand() *cobra.Command {
	var o client.ImageRemoveOptions
	var noPrune bool
	cmd := &cobra.Command{
		Use:   "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  requiresMinArgs(1),
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			o.PruneChildren = !noPrune
			var errs []string
			for _, ref := range args {
				r, err := api.ImageRemove(ctx, ref, o)
				if err != nil {
					errs = append(errs, err.Error())
					continue
				}
				printDeleted(c.out, r.Items)
			}
			if len(errs) > 0 {
				return errors.New(strings.Join(errs, "\n"))
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&o.Force, "force", "f", false, "Force removal of the image")
	cmd.Flags().BoolVar(&noPrune, "no-prune", false, "Do not delete untagged parents")
	return cmd
}

func printDeleted(w io.Writer, items []image.DeleteResponse) {
	for _, d := range items {
		if d.Untagged != "" {
			fmt.Fprintln(w, "Untagged:", d.Untagged)
		}
		if d.Deleted != "" {
			fmt.Fprintln(w, "Deleted:", d.Deleted)
		}
	}
}

func (c *CLI) imagePruneCommand() *cobra.Command {
	return c.pruneCommand(pruneSpec{
		short: "Remove unused images",
		warning: func(all, _ bool) string {
			if all {
				return "WARNING! This will remove all images without at least one container associated to them."
			}
			return "WARNING! This will remove all dangling images."
		},
		allHelp: "Remove all unused images, not just dangling ones",
		total:   true,
		run:     []pruner{c.pruneImages},
	})
}

func (c *CLI) imageInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.inspectObjects(ctxOf(cmd), "image", args, format, false)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return cmd
}

type historyRow struct {
	h     image.HistoryResponseItem
	trunc bool
	human bool
}

func (r historyRow) ID() string {
	if r.h.ID == "<missing>" || r.h.ID == "" {
		return "<missing>"
	}
	if r.trunc {
		return shortID(r.h.ID)
	}
	return r.h.ID
}
func (r historyRow) CreatedSince() string {
	if !r.human {
		return unixTime(r.h.Created).Format("2006-01-02T15:04:05Z07:00")
	}
	return humanSince(unixTime(r.h.Created))
}
func (r historyRow) CreatedAt() string {
	return unixTime(r.h.Created).Format("2006-01-02T15:04:05Z07:00")
}
func (r historyRow) CreatedBy() string {
	s := strings.ReplaceAll(r.h.CreatedBy, "\t", " ")
	if r.trunc {
		return ellipsis(s, 45)
	}
	return s
}
func (r historyRow) Size() string {
	if r.human {
		return humanSize(r.h.Size)
	}
	return fmt.Sprint(r.h.Size)
}
func (r historyRow) Comment() string { return r.h.Comment }
func (r historyRow) MarshalJSON() ([]byte, error) {
	return jsonMarshal(map[string]string{"Comment": r.Comment(), "CreatedAt": r.CreatedAt(), "CreatedBy": r.CreatedBy(),
		"CreatedSince": r.CreatedSince(), "ID": r.ID(), "Size": r.Size()})
}

func (c *CLI) historyCommand() *cobra.Command {
	var human, quiet, noTrunc bool
	var format string
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  requiresExactArgs(1),
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			r, err := api.ImageHistory(ctx, args[0])
			if err != nil {
				return err
			}
			var rows []any
			for _, h := range r.Items {
				rows = append(rows, historyRow{h: h, trunc: !noTrunc, human: human})
			}
			headers := map[string]string{"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}
			return listing{format: format, table: "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}", quiet: "{{.ID}}", headers: headers}.render(c.out, quiet, rows)
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "", "Format output using a custom template")
	fl.BoolVarP(&human, "human", "H", true, "Print sizes and dates in human readable format")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	return cmd
}

func (c *CLI) tagCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  requiresExactArgs(2),
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			_, err := api.ImageTag(ctx, client.ImageTagOptions{Source: args[0], Target: args[1]})
			return err
		}),
	}
}

func (c *CLI) saveCommand() *cobra.Command {
	var output string
	var platforms []string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			w, done, err := c.archiveOutput(output)
			if err != nil {
				return err
			}
			api, err := c.Client(ctx)
			if err != nil {
				return err
			}
			var opts []client.ImageSaveOption
			for _, p := range platforms {
				pl, err := parsePlatform(p)
				if err != nil {
					return err
				}
				opts = append(opts, client.ImageSaveWithPlatforms(pl))
			}
			rc, err := api.ImageSave(ctx, args, opts...)
			if err != nil {
				return err
			}
			defer rc.Close()
			if _, err := io.Copy(w, rc); err != nil {
				return err
			}
			return done()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	cmd.Flags().StringSliceVar(&platforms, "platform", nil, "Save only the given platform(s)")
	return cmd
}

func (c *CLI) loadCommand() *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			var in io.Reader = c.in
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			} else if _, ok := isTerminal(c.in); ok {
				return errors.New("requested load from stdin, but stdin is empty")
			}
			api, err := c.Client(ctx)
			if err != nil {
				return err
			}
			_, tty := isTerminal(c.out)
			rc, err := api.ImageLoad(ctx, in, client.ImageLoadWithQuiet(quiet || !tty))
			if err != nil {
				return err
			}
			defer rc.Close()
			return c.displayProgress(rc, c.out)
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}

func (c *CLI) importCommand() *cobra.Command {
	var o client.ImageImportOptions
	var platform string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  requiresRangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			src := client.ImageImportSource{SourceName: args[0]}
			switch {
			case args[0] == "-":
				src.Source = c.in
			case strings.HasPrefix(args[0], "http://") || strings.HasPrefix(args[0], "https://"):
				// The daemon fetches URLs itself.
			default:
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				src = client.ImageImportSource{Source: f, SourceName: "-"}
			}
			ref := ""
			if len(args) == 2 {
				ref = args[1]
			}
			if platform != "" {
				p, err := parsePlatform(platform)
				if err != nil {
					return err
				}
				o.Platform = p
			}
			api, err := c.Client(ctx)
			if err != nil {
				return err
			}
			rc, err := api.ImageImport(ctx, src, ref, o)
			if err != nil {
				return err
			}
			defer rc.Close()
			return c.displayProgress(rc, c.out)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&o.Changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	fl.StringVarP(&o.Message, "message", "m", "", "Set commit message for imported image")
	fl.StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	return cmd
}

// displayProgress renders a jsonmessage stream: progress bars that
// redraw in place on a terminal, plain lines otherwise (docker's renderer).
func (c *CLI) displayProgress(r io.Reader, out io.Writer) error {
	fd, tty := isTerminal(out)
	err := jsonmessage.DisplayJSONMessagesStream(r, out, fd, tty, nil)
	if err != nil {
		var je interface{ Error() string }
		if errors.As(err, &je) {
			return err
		}
	}
	return err
}

func (c *CLI) pullCommand() *cobra.Command {
	var all, quiet bool
	var platform string
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  requiresExactArgs(1),
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			ref := args[0]
			if !all {
				c.defaultTag(ref)
				ref = normalizedTagged(ref)
			}
			if err := c.pullImage(ctx, api, ref, platform, c.out, quiet); err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(c.out, familiarTagged(ref))
			}
			return nil
		}),
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all-tags", "a", false, "Download all tagged images in the repository")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	fl.StringVar(&platform, "platform", os.Getenv("DOCKER_DEFAULT_PLATFORM"), "Set platform if server is multi-platform capable")
	fl.Bool("disable-content-trust", true, "Skip image verification")
	fl.MarkHidden("disable-content-trust")
	return cmd
}

// defaultTag says, as docker does, that a bare name means :latest.
func (c *CLI) defaultTag(ref string) {
	if named, err := reference.ParseNormalizedNamed(ref); err == nil && reference.IsNameOnly(named) {
		fmt.Fprintln(c.out, "Using default tag: latest")
	}
}

// normalizedTagged adds :latest to a reference without tag or digest.
func normalizedTagged(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.FamiliarString(reference.TagNameOnly(named))
}

// pullImage pulls ref, showing progress on out. POST /images/create
// with X-Registry-Auth from the client config, as docker does.
func (c *CLI) pullImage(ctx context.Context, api *client.Client, ref, platform string, out io.Writer, quiet bool) error {
	opts := client.ImagePullOptions{RegistryAuth: c.encodedAuth(ref)}
	if platform != "" {
		p, err := parsePlatform(platform)
		if err != nil {
			return err
		}
		opts.Platforms = append(opts.Platforms, p)
	}
	resp, err := api.ImagePull(ctx, ref, opts)
	if err != nil {
		return err
	}
	defer resp.Close()
	if quiet {
		out = io.Discard
	}
	return c.displayProgress(resp, out)
}

func (c *CLI) pushCommand() *cobra.Command {
	var all, quiet bool
	var platform string
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  requiresExactArgs(1),
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			ref := args[0]
			if !all {
				c.defaultTag(ref)
				ref = normalizedTagged(ref)
			}
			opts := client.ImagePushOptions{All: all, RegistryAuth: c.encodedAuth(ref)}
			if platform != "" {
				p, err := parsePlatform(platform)
				if err != nil {
					return err
				}
				opts.Platform = &p
			}
			resp, err := api.ImagePush(ctx, ref, opts)
			if err != nil {
				return err
			}
			defer resp.Close()
			out := c.out
			if quiet {
				out = io.Discard
			}
			if err := c.displayProgress(resp, out); err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(c.out, ref)
			}
			return nil
		}),
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all-tags", "a", false, "Push all tags of an image to the repository")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	fl.StringVar(&platform, "platform", "", "Push a platform-specific manifest as a single-platform image to the registry")
	fl.Bool("disable-content-trust", true, "Skip image signing")
	fl.MarkHidden("disable-content-trust")
	return cmd
}

// buildCommand: the builder lands with a later issue; until then the
// command says so instead of pretending.
func (c *CLI) buildCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | URL | -",
		Short: "Build an image from a Dockerfile",
		Args:  requiresExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("gorae build is not implemented yet (the Dockerfile builder lands with its own issue); build with `docker build` against another engine and `gorae load` the result")
		},
	}
	fl := cmd.Flags()
	fl.StringArrayP("tag", "t", nil, "Name and optionally a tag (format: \"name:tag\")")
	fl.StringP("file", "f", "", "Name of the Dockerfile (default: \"PATH/Dockerfile\")")
	fl.StringArray("build-arg", nil, "Set build-time variables")
	fl.BoolP("quiet", "q", false, "Suppress the build output and print image ID on success")
	return cmd
}
