namespace CatsDogs.ML.Data;

/// <summary>
/// Lists the image files under a folder, recursively, without ever looping: every folder is entered at most once,
/// recognised by its device and inode, so symbolic links to folders are followed once each (a link back to a parent,
/// or two links to one folder, add nothing). Hidden entries, excluded folders and folders this library wrote its
/// output into (marked by <see cref="OutputMarker"/>) are left out. Listing honours cancellation.
/// </summary>
internal static class PhotoFolder
{
    /// <summary>
    /// The file the library leaves in a folder it writes images into (overlays, thumbnails), so that a later listing
    /// of a folder above never reads them back as photos.
    /// </summary>
    public const string OutputMarker = ".catsdogs-output";

    private static readonly EnumerationOptions OneLevel = new()
    {
        RecurseSubdirectories = false,
        IgnoreInaccessible = true,
        AttributesToSkip = FileAttributes.Hidden | FileAttributes.System,
        ReturnSpecialDirectories = false,
    };

    /// <summary>Full paths of the image files under <paramref name="root"/> (any order).</summary>
    public static IEnumerable<string> List(string root, IReadOnlyCollection<string> excluded, CancellationToken cancellationToken)
    {
        var excludedFull = excluded.Select(e => Path.TrimEndingDirectorySeparator(Path.GetFullPath(e))).ToHashSet(StringComparer.Ordinal);
        var visited = new HashSet<(ulong, ulong)>();
        var pending = new Stack<string>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var dir = pending.Pop();
            var identity = FileKind.Stat(dir);
            if (identity.Type != FileType.Directory || (identity.HasIdentity && !visited.Add((identity.Device, identity.Inode))))
            {
                continue;
            }

            if (dir != root && (excludedFull.Contains(dir) || File.Exists(Path.Combine(dir, OutputMarker))))
            {
                continue;
            }

            IEnumerable<FileSystemInfo> entries;
            try
            {
                entries = new DirectoryInfo(dir).EnumerateFileSystemInfos("*", OneLevel).ToArray();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // an unreadable folder lists nothing, as IgnoreInaccessible does below the root
            }

            foreach (var entry in entries)
            {
                if (entry.Name.StartsWith('.'))
                {
                    continue;
                }

                var isDirectory = entry.Attributes.HasFlag(FileAttributes.ReparsePoint)
                    ? FileKind.Stat(entry.FullName).Type == FileType.Directory
                    : entry is DirectoryInfo;
                if (isDirectory)
                {
                    pending.Push(entry.FullName);
                }
                else if (FileNaming.IsImageFile(entry.Name))
                {
                    yield return entry.FullName;
                }
            }
        }
    }

    /// <summary>Marks <paramref name="directory"/> as the library's output, so listings of folders above skip it.</summary>
    public static void MarkAsOutput(string directory)
    {
        var marker = Path.Combine(directory, OutputMarker);
        if (!File.Exists(marker))
        {
            File.WriteAllText(marker, "Written by CatsDogs.ML: image listings of folders above this one skip it, so its images are never read back as photos.\n");
        }
    }
}
