namespace CatsDogs.ML.RabbitMQ;

/// <summary>
/// Which files a worker reads for path orders. Anyone who may publish to the broker can write an order, so the path
/// it names is checked before the file is touched: once every link in it is resolved, it must lie inside one of the
/// worker's <c>--allow</c> folders or, for a worker started without them, inside one of the folders the job scattered
/// (recorded by scatter in each order) that is not a system folder. The file read is the resolved path, the one
/// checked. A refusal is one fixed sentence: it says nothing about the file (whether it exists, is a folder, its
/// size) and carries none of its bytes.
/// </summary>
internal sealed class PathPolicy
{
    /// <summary>The reason every refused path gets, word for word.</summary>
    public const string Refusal = "refused: the path is not inside the folders its job scattered or the worker's --allow folders (checked after resolving links); the worker did not open it";

    // Folders whose files describe the machine or its users, never photos: a job's own roots may not lie in them.
    private static readonly string[] SystemFolders = ["/proc", "/sys", "/dev", "/etc", "/boot", "/root", "/run", "/var/run", "/var/lib", "/var/log"];

    private static readonly StringComparison Comparison = OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    private readonly string[] _allow;

    /// <param name="allow">The worker's <c>--allow</c> folders; empty: the job's scattered folders.</param>
    /// <exception cref="ArgumentException">An allowed folder does not exist.</exception>
    public PathPolicy(IReadOnlyList<string>? allow)
    {
        _allow = (allow ?? []).Select(folder => Directory.Exists(folder)
            ? Resolve(Path.GetFullPath(folder))
            : throw new ArgumentException($"--allow folder '{Path.GetFullPath(folder)}' does not exist.")).ToArray();
    }

    /// <summary>The folders this worker reads from whatever an order says, resolved; empty when it goes by the job's folders.</summary>
    public IReadOnlyList<string> Allowed => _allow;

    /// <summary>The path to read for <paramref name="order"/>, resolved; null when the order may not have it read.</summary>
    public string? Permit(WorkOrder order)
    {
        string file;
        IEnumerable<string> roots;
        try
        {
            file = Resolve(order.Path);
            roots = _allow.Length > 0 ? _allow : (order.Roots ?? []).Select(Resolve).Where(r => !IsSystem(r));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null; // too many links, or a name the system refuses: refused like any other path
        }

        return roots.Any(root => Inside(file, root)) ? file : null;
    }

    /// <summary>
    /// <paramref name="path"/> (fully qualified) with every symbolic link resolved, component by component, as the
    /// system does when it opens it; '..' applies to the resolved folder. Components that do not exist are kept as
    /// they are, so a missing file resolves like an existing one.
    /// </summary>
    /// <exception cref="IOException">More than 40 links (a loop).</exception>
    public static string Resolve(string path)
    {
        var root = Path.GetPathRoot(path) is { Length: > 0 } r ? r : throw new ArgumentException($"'{path}' is not a full path.");
        var rest = new LinkedList<string>(Split(path[root.Length..]));
        var current = root;
        var links = 0;
        while (rest.First is { } first)
        {
            rest.RemoveFirst();
            var part = first.Value;
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? current;
                continue;
            }

            var next = Path.Join(current, part);
            if (new FileInfo(next).LinkTarget is not { } target)
            {
                current = next;
                continue;
            }

            if (++links > 40)
            {
                throw new IOException($"more than 40 links in '{path}'");
            }

            // The target replaces the link: from the root when absolute, from the link's folder when relative.
            if (Path.IsPathRooted(target))
            {
                current = Path.GetPathRoot(target)!;
                target = target[current.Length..];
            }

            foreach (var part2 in Split(target).Reverse())
            {
                rest.AddFirst(part2);
            }
        }

        return current;
    }

    private static IEnumerable<string> Split(string path) => path.Split([Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar], StringSplitOptions.RemoveEmptyEntries);

    private static bool Inside(string file, string root) =>
        file.Length > root.Length && file.StartsWith(root, Comparison) && (root.EndsWith(Path.DirectorySeparatorChar) || file[root.Length] == Path.DirectorySeparatorChar);

    // A job's root that is the file system's root, lies in a system folder or in a hidden one (~/.ssh, ~/.aws).
    private static bool IsSystem(string root) =>
        Path.GetPathRoot(root) == root
        || SystemFolders.Any(s => string.Equals(root, s, Comparison) || Inside(root, s))
        || Split(root).Any(part => part.StartsWith('.'));
}
