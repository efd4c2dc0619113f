using System.Text;

namespace CatsDogs.ML.Data;

/// <summary>
/// Output files that never destroy an input and never leave a half-written result: each path is checked before any
/// work starts (its folder exists or is created, it is not a folder, not one of the inputs, and the folder is
/// writable), and written to a temporary file beside it that is moved into place only when complete. A failed write
/// leaves the previous file as it was; a temporary file left by a crashed run is replaced.
/// </summary>
public static class OutputFile
{
    /// <summary>
    /// Checks an output path before the work that will fill it, and returns its full path. Creates its folder when
    /// missing.
    /// </summary>
    /// <param name="path">The output file.</param>
    /// <param name="inputs">Files and folders the run reads (a model, photos, a data folder): the output may be none of them.</param>
    /// <exception cref="ArgumentException">The path is a folder, an input, or cannot be written; the message says which.</exception>
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
    /// Checks and creates an output folder before the work: it may not be an existing file. It is marked as this
    /// library's output, so that a later listing of a folder above it (<see cref="ImageDataset.FromFolder"/>) never
    /// reads its images (overlays, thumbnails) back as photos. Returns its full path.
    /// </summary>
    /// <exception cref="ArgumentException">The path is a file, or the folder cannot be created or written.</exception>
    public static string PrepareFolder(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var full = Path.GetFullPath(directory);
        if (FileKind.Stat(full).Type is FileType.Regular or FileType.Special)
        {
            throw new ArgumentException($"Output folder '{full}' is a file; give a folder.");
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
