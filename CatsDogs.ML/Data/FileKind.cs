using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace CatsDogs.ML.Data;

/// <summary>What a path is on disk.</summary>
internal enum FileType
{
    /// <summary>Nothing at that path (or a dangling link).</summary>
    Missing,

    /// <summary>A regular file.</summary>
    Regular,

    /// <summary>A directory.</summary>
    Directory,

    /// <summary>A FIFO, socket or device: never read as a photo or a model, since reading may block or never end.</summary>
    Special,
}

/// <summary>The type and identity (device, inode) of a file, as the operating system reports them.</summary>
/// <param name="Type">Regular file, directory, special file or missing.</param>
/// <param name="Device">The device the file lives on (0 where the platform does not say).</param>
/// <param name="Inode">Its inode on that device (0 where the platform does not say).</param>
/// <param name="Size">Its size in bytes.</param>
internal readonly record struct FileIdentity(FileType Type, ulong Device, ulong Inode, long Size)
{
    /// <summary>Whether the platform reported a real identity (Linux), so that two paths can be compared by it.</summary>
    public bool HasIdentity => Device != 0 || Inode != 0;

    /// <summary>Names the kind of a special file for messages.</summary>
    public static string Describe(FileType type) => type switch
    {
        FileType.Directory => "a folder",
        FileType.Special => "not a regular file (a FIFO, socket or device; reading it could block or never end)",
        FileType.Missing => "missing",
        _ => "a regular file",
    };
}

/// <summary>
/// File types, identities and non-blocking opens, through Linux's <c>statx</c> and <c>open(O_NONBLOCK)</c>: .NET
/// reports a FIFO or a device as an ordinary file, and opening a FIFO for reading blocks until a writer appears.
/// On other systems it falls back to what .NET reports (no identity, no special-file detection).
/// </summary>
internal static partial class FileKind
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7ff;
    private const int ORdOnly = 0, ONonBlock = 0x800, OCloExec = 0x80000;

    /// <summary>Stats <paramref name="path"/>, following symbolic links unless <paramref name="followLinks"/> is false.</summary>
    public static FileIdentity Stat(string path, bool followLinks = true)
    {
        if (OperatingSystem.IsLinux())
        {
            Span<byte> buffer = stackalloc byte[256];
            return statx(AtFdCwd, path, followLinks ? 0 : AtSymlinkNoFollow, StatxBasicStats, ref MemoryMarshal.GetReference(buffer)) == 0
                ? Parse(buffer)
                : new FileIdentity(FileType.Missing, 0, 0, 0);
        }

        if (Directory.Exists(path))
        {
            return new FileIdentity(FileType.Directory, 0, 0, 0);
        }

        var info = new FileInfo(path);
        return info.Exists ? new FileIdentity(FileType.Regular, 0, 0, info.Length) : new FileIdentity(FileType.Missing, 0, 0, 0);
    }

    /// <summary>
    /// Opens a regular file for reading without ever blocking (FIFOs and devices are refused after a non-blocking
    /// open) and returns its handle and identity.
    /// </summary>
    /// <exception cref="FileNotFoundException">Nothing at that path.</exception>
    /// <exception cref="NotRegularFileException">The path is a folder, FIFO, socket or device.</exception>
    /// <exception cref="IOException">The file cannot be opened.</exception>
    /// <exception cref="UnauthorizedAccessException">Permission denied.</exception>
    public static (SafeFileHandle Handle, FileIdentity Identity) OpenRegular(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            var kind = Stat(path);
            if (kind.Type != FileType.Regular)
            {
                throw kind.Type == FileType.Missing ? new FileNotFoundException(path, path) : new NotRegularFileException(kind.Type);
            }

            var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
            return (handle, kind with { Size = RandomAccess.GetLength(handle) });
        }

        var fd = open(path, ORdOnly | ONonBlock | OCloExec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno switch
            {
                2 or 20 => new FileNotFoundException(path, path), // ENOENT, ENOTDIR
                13 or 1 => new UnauthorizedAccessException($"permission denied (errno {errno})"), // EACCES, EPERM
                6 => new NotRegularFileException(FileType.Special), // ENXIO: a socket or a device without a driver
                _ => new IOException($"it cannot be opened ({Marshal.GetPInvokeErrorMessage(errno)})"),
            };
        }

        var opened = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            Span<byte> buffer = stackalloc byte[256];
            if (statx(fd, "", AtEmptyPath, StatxBasicStats, ref MemoryMarshal.GetReference(buffer)) != 0)
            {
                throw new IOException($"it cannot be examined ({Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())})");
            }

            var identity = Parse(buffer);
            if (identity.Type != FileType.Regular)
            {
                throw new NotRegularFileException(identity.Type);
            }

            return (opened, identity);
        }
        catch
        {
            opened.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads a whole regular file, refusing one larger than <paramref name="maxBytes"/> (checked before and while
    /// reading, so a file that grows is caught too). Bytes go into <paramref name="buffer"/> when it is large enough.
    /// </summary>
    /// <exception cref="FileTooLargeException">The file is larger than the cap.</exception>
    public static ReadOnlyMemory<byte> ReadAll(string path, long maxBytes, byte[]? buffer = null)
    {
        var (handle, identity) = OpenRegular(path);
        using (handle)
        {
            if (identity.Size > maxBytes)
            {
                throw new FileTooLargeException(identity.Size, maxBytes);
            }

            var size = (int)identity.Size;
            var target = buffer is not null && buffer.Length >= size ? buffer : new byte[size];
            var total = 0;
            while (total < size)
            {
                var read = RandomAccess.Read(handle, target.AsSpan(total, size - total), total);
                if (read == 0)
                {
                    break; // it shrank while being read: what is there is what it holds
                }

                total += read;
            }

            // A file that grew past its size while being read (or whose size the system does not report) is checked
            // against the cap by reading on, a little at a time.
            Span<byte> probe = stackalloc byte[1];
            if (total == size && RandomAccess.Read(handle, probe, total) > 0)
            {
                var grown = new List<byte>(target.AsSpan(0, total).ToArray()) { probe[0] };
                var chunk = new byte[65536];
                int read;
                while ((read = RandomAccess.Read(handle, chunk, grown.Count)) > 0)
                {
                    grown.AddRange(chunk.AsSpan(0, read));
                    if (grown.Count > maxBytes)
                    {
                        throw new FileTooLargeException(grown.Count, maxBytes);
                    }
                }

                return grown.ToArray();
            }

            return target.AsMemory(0, total);
        }
    }

    private static FileIdentity Parse(ReadOnlySpan<byte> statx)
    {
        var mode = BitConverter.ToUInt16(statx[28..]);
        var type = (mode & 0xF000) switch
        {
            0x8000 => FileType.Regular,
            0x4000 => FileType.Directory,
            _ => FileType.Special,
        };
        var device = ((ulong)BitConverter.ToUInt32(statx[136..]) << 32) | BitConverter.ToUInt32(statx[140..]);
        return new FileIdentity(type, device, BitConverter.ToUInt64(statx[32..]), (long)BitConverter.ToUInt64(statx[40..]));
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string pathname, int flags, uint mask, ref byte statxbuf);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string pathname, int flags);
}

/// <summary>A path that must be a regular file is a folder, FIFO, socket or device.</summary>
internal sealed class NotRegularFileException(FileType type) : IOException($"it is {FileIdentity.Describe(type)}")
{
    public FileType Type { get; } = type;
}

/// <summary>A file is larger than the cap for its kind.</summary>
internal sealed class FileTooLargeException(long size, long cap)
    : IOException(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"it is {size:N0} bytes, more than the limit of {cap:N0} bytes"))
{
    public long Size { get; } = size;

    public long Cap { get; } = cap;
}
