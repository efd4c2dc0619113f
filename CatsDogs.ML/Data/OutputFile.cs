using System.Text;

namespace CatsDogs.ML.Data;

/// <summary>
/// Output files that never destroy an input and never leave a half-written result: each path is checked before any
/// work starts (its folder exists or is created, it is not a folder, not one of the inputs, not a photo name inside
/// an input folder, and the folder is writable), and written to a temporary file beside it that is moved into place
/// only when complete. A failed write leaves the previous file as it was; a temporary file left by a crashed run is
/// replaced.
/// </summary>
public static class OutputFile
{
    /// <summary>
    /// Checks an output path before the work that will fill it, and returns its full path. Creates its folder when
    /// missing.
    /// </summary>
    /// <param name="path">The output file.</param>
    /// <param name="inputs">
    /// Files and folders the run reads (a model, photos, a data folder): the output may be none of them, nor a file
    /// with a photo extension inside an input folder (it would replace a photo, or be listed as one by the next run).
    /// </param>
    /// <exception cref="ArgumentException">The path is a folder, an input, a photo name in an input folder, or cannot be written; the message says which.</exception>
    public static string Prepare(string path, IEnumerable<string>? inputs = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        if (Path.EndsInDirectorySeparator(path) || Directory.Exists(full))
        {
            throw new ArgumentException($"Output '{full}' is a folder; give a file name inside it.");
        }

        var target = FileKind.Stat(full);
        if (target.Type == FileType.Special)
        {
            throw new ArgumentException($"Output '{full}' is {FileIdentity.Describe(FileType.Special)}; give a regular file name.");
        }

        foreach (var input in inputs ?? [])
        {
            if (SameFile(full, target, input))
            {
                throw new ArgumentException($"Output '{full}' is also an input of this run ('{Path.GetFullPath(input)}'); writing it would destroy the input. Choose another file.");
            }

            if (FileNaming.IsImageFile(full) && ListedFolderHolding(full, input) is { } inputFolder)
            {
                throw new ArgumentException($"Output '{full}' has a photo extension and lies inside the input folder '{inputFolder}': it would replace a photo or be read as one by the next run. Choose a name outside that folder or another extension (.csv, .zip).");
            }
        }

        var folder = Path.GetDirectoryName(full)!;
        try
        {
            Directory.CreateDirectory(folder);
            var probe = Path.Combine(folder, $".{Path.GetFileName(full)}.{Environment.ProcessId}.probe");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"Output '{full}' cannot be written: its folder '{folder}' is not writable ({e.Message}).", e);
        }

        return full;
    }

    /// <summary>
    /// Checks and creates an output folder before the work: it may not be an existing file, an input folder, a folder
    /// holding an input, or a folder of photos this library did not write (its images would mix with them, and the
    /// mark below would hide them from later listings). It is marked as this library's output, so that a later
    /// listing of a folder above it (<see cref="ImageDataset.FromFolder"/>) never reads its images (overlays,
    /// thumbnails) back as photos. A folder inside an input folder is fine: the listing skips it. Returns its full
    /// path.
    /// </summary>
    /// <param name="directory">The output folder.</param>
    /// <param name="inputs">Photos and folders of photos the run reads.</param>
    /// <exception cref="ArgumentException">The path is a file, an input, holds an input or photos, or cannot be created or written.</exception>
    public static string PrepareFolder(string directory, IEnumerable<string>? inputs = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        var target = FileKind.Stat(full);
        if (target.Type is FileType.Regular or FileType.Special)
        {
            throw new ArgumentException($"Output folder '{full}' is a file; give a folder.");
        }

        if (target.Type == FileType.Directory)
        {
            foreach (var input in inputs ?? [])
            {
                var inputFull = Path.TrimEndingDirectorySeparator(Path.GetFullPath(input));
                if (Ancestors(inputFull).Any(a => SameFolder(a, full, target)))
                {
                    throw new ArgumentException(SameFolder(inputFull, full, target)
                        ? $"Output folder '{full}' is the input folder of this run: its images would be read as photos by the next run. Give a folder of its own (e.g. '{Path.Combine(full, "out")}')."
                        : $"Output folder '{full}' holds the input '{inputFull}': its images would mix with the photos. Give a folder of its own.");
                }
            }

            if (!File.Exists(Path.Combine(full, PhotoFolder.OutputMarker))
                && PhotoFolder.List(full, [], CancellationToken.None).FirstOrDefault() is { } photo)
            {
                throw new ArgumentException($"Output folder '{full}' already holds photos this tool did not write (such as '{photo}'): its images would mix with them. Give a new or empty folder.");
            }
        }

        try
        {
            Directory.CreateDirectory(full);
            PhotoFolder.MarkAsOutput(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"Output folder '{full}' cannot be created or written: {e.Message}", e);
        }

        return full;
    }

    /// <summary>
    /// Writes <paramref name="path"/> through a temporary file in the same folder, moved into place when
    /// <paramref name="write"/> has finished; on any failure the temporary file is removed and the previous file is
    /// left intact.
    /// </summary>
    /// <exception cref="IOException">The file could not be written (disk full, permissions); the message names it.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var full = Path.GetFullPath(path);
        var temp = full + ".tmp";
        try
        {
            File.Delete(temp); // a stale one from a crashed run, or whatever else squats the name
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new IOException($"Cannot write '{full}': {e.Message} The previous file, if any, is unchanged.", e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Writes UTF-8 text (no byte-order mark) through <see cref="Write(string, Action{Stream})"/>.</summary>
    public static void WriteText(string path, string text) =>
        Write(path, stream => stream.Write(new UTF8Encoding(false).GetBytes(text)));

    /// <summary>Writes bytes through <see cref="Write(string, Action{Stream})"/>.</summary>
    public static void WriteBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var copy = bytes.ToArray();
        Write(path, stream => stream.Write(copy));
    }

    // Whether the output would land on an input: the same path, a path inside an input folder that is a photo, or
    // the same file reached through another name (same device and inode).
    private static bool SameFile(string output, FileIdentity outputIdentity, string input)
    {
        var inputFull = Path.GetFullPath(input);
        if (string.Equals(output, inputFull, StringComparison.Ordinal))
        {
            return true;
        }

        var inputIdentity = FileKind.Stat(inputFull);
        return outputIdentity.Type == FileType.Regular && inputIdentity.Type == FileType.Regular && outputIdentity.HasIdentity
            && outputIdentity.Device == inputIdentity.Device && outputIdentity.Inode == inputIdentity.Inode;
    }

    // The input folder (as given) that a listing of it would reach the output through, or null: the output's
    // folders are compared with the input by identity, so links count, and a folder marked as output ends the
    // search (listings skip it).
    private static string? ListedFolderHolding(string output, string input)
    {
        var inputFull = Path.GetFullPath(input);
        var inputIdentity = FileKind.Stat(inputFull);
        if (inputIdentity.Type != FileType.Directory)
        {
            return null;
        }

        foreach (var folder in Ancestors(Path.GetDirectoryName(output)!))
        {
            if (SameFolder(folder, inputFull, inputIdentity))
            {
                return inputFull;
            }

            if (File.Exists(Path.Combine(folder, PhotoFolder.OutputMarker)))
            {
                return null;
            }
        }

        return null;
    }

    // A path and the folders above it, up to the root.
    private static IEnumerable<string> Ancestors(string path)
    {
        for (var p = path; !string.IsNullOrEmpty(p); p = Path.GetDirectoryName(p))
        {
            yield return p;
        }
    }

    private static bool SameFolder(string path, string folder, FileIdentity folderIdentity)
    {
        if (string.Equals(Path.TrimEndingDirectorySeparator(path), Path.TrimEndingDirectorySeparator(folder), StringComparison.Ordinal))
        {
            return true;
        }

        var identity = FileKind.Stat(path);
        return identity.Type == FileType.Directory && folderIdentity.HasIdentity
            && identity.Device == folderIdentity.Device && identity.Inode == folderIdentity.Inode;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a leftover temporary file is replaced by the next write.
        }
    }
}
