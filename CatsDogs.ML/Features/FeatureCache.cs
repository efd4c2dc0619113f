using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace CatsDogs.ML.Features;

/// <summary>
/// Pooled features on disk, one small file per key (<see cref="FeatureCacheKey"/>: backbone, view, photo content).
/// Keys are derived from content, never from a flag: a different model file, preprocessing, view or photo gives a
/// different key. Each entry
/// carries a versioned header, its own key and a checksum, is written to a temporary file and moved into place,
/// and is recomputed whenever any check fails.
/// </summary>
internal sealed class FeatureCache
{
    /// <summary>Environment variable that overrides the default cache folder.</summary>
    public const string DirectoryVariable = "CATSDOGS_CACHE_DIR";

    private const int FormatVersion = 1;
    private static readonly byte[] Magic = "CDFC"u8.ToArray();
    private const int HeaderLength = 4 + 4 + 32 + 4; // magic, version, key, dimension
    private const int ChecksumLength = 16;

    public FeatureCache(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = Path.GetFullPath(directory);
    }

    /// <summary>The cache's root folder.</summary>
    public string Directory { get; }

    /// <summary><c>$CATSDOGS_CACHE_DIR</c>, else <c>$XDG_CACHE_HOME/catsdogs/features</c>, else the user's cache folder.</summary>
    public static string DefaultDirectory
    {
        get
        {
            if (Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } explicitDir)
            {
                return explicitDir;
            }

            var root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
                ? xdg
                : OperatingSystem.IsWindows()
                    ? Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData)
                    : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "catsdogs", "features");
        }
    }

    /// <summary>Number of entries that could not be written (read-only disk and the like); features are still returned.</summary>
    public int WriteFailures => _writeFailures;

    private int _writeFailures;

    /// <summary>Tests only: runs with the temporary file's path just before it is moved into place.</summary>
    internal Action<string>? BeforeMove { get; set; }

    /// <summary>Reads an entry into <paramref name="features"/>; false when it is absent or fails any check.</summary>
    public bool TryRead(byte[] key, Span<float> features)
    {
        var path = PathOf(key);
        var payload = features.Length * sizeof(float);
        byte[] bytes;
        try
        {
            // Bounded: an entry is never larger than its header, payload and checksum; a FIFO is refused, not waited on.
            bytes = Data.FileKind.ReadAll(path, HeaderLength + payload + ChecksumLength).ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        if (bytes.Length != HeaderLength + payload + ChecksumLength
            || !bytes.AsSpan(0, 4).SequenceEqual(Magic)
            || BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4)) != FormatVersion
            || !bytes.AsSpan(8, 32).SequenceEqual(key)
            || BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(40)) != features.Length
            || !Checksum(bytes.AsSpan(0, HeaderLength + payload)).SequenceEqual(bytes.AsSpan(HeaderLength + payload)))
        {
            return false;
        }

        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("The feature cache stores little-endian floats.");
        }

        var values = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(HeaderLength, payload));
        foreach (var v in values)
        {
            if (!float.IsFinite(v))
            {
                return false;
            }
        }

        values.CopyTo(features);
        return true;
    }

    /// <summary>Writes an entry atomically (temporary file, then move); failures are counted, not thrown.</summary>
    public void Write(byte[] key, ReadOnlySpan<float> features)
    {
        var payload = features.Length * sizeof(float);
        var bytes = new byte[HeaderLength + payload + ChecksumLength];
        Magic.CopyTo(bytes, 0);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), FormatVersion);
        key.CopyTo(bytes, 8);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(40), features.Length);
        MemoryMarshal.AsBytes(features).CopyTo(bytes.AsSpan(HeaderLength));
        Checksum(bytes.AsSpan(0, HeaderLength + payload)).CopyTo(bytes.AsSpan(HeaderLength + payload));

        var path = PathOf(key);
        var temp = $"{path}.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.tmp";
        try
        {
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(temp, bytes);
            BeforeMove?.Invoke(temp);
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Interlocked.Increment(ref _writeFailures);
            TryDelete(temp);
        }
    }

    internal string PathOf(byte[] key)
    {
        var hex = Convert.ToHexStringLower(key);
        return Path.Combine(Directory, hex[..2], hex + ".f32");
    }

    private static byte[] Checksum(ReadOnlySpan<byte> data) => SHA256.HashData(data)[..ChecksumLength];

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Nothing more to do: a stray .tmp file is never read as an entry.
        }
    }
}
