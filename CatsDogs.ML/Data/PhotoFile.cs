using System.Globalization;

namespace CatsDogs.ML.Data;

/// <summary>
/// Reads photo files safely: regular files only (a FIFO, socket or device is refused without blocking), at most a
/// size cap, into a caller's reusable buffer; every failure becomes an <see cref="ImageDecodeException"/> that names
/// the file and says why in plain words.
/// </summary>
public static class PhotoFile
{
    /// <summary>The default cap on a photo file's size: 64 MiB (a 12000 × 12000 JPEG is about 40 MiB).</summary>
    public const long DefaultMaxBytes = 64L * 1024 * 1024;

    /// <summary>Largest buffer a worker keeps between photos; a larger photo gets a buffer of its own, dropped after use.</summary>
    public const int MaxKeptBuffer = 16 * 1024 * 1024;

    /// <summary>
    /// The bytes of the photo at <paramref name="path"/>, in <paramref name="buffer"/> (grown as needed up to
    /// <see cref="MaxKeptBuffer"/>) when it fits.
    /// </summary>
    /// <exception cref="ImageDecodeException">The file cannot be read; <see cref="ImageDecodeException.Reason"/> says why.</exception>
    public static ReadOnlyMemory<byte> Read(string path, long maxBytes, ref byte[] buffer)
    {
        try
        {
            var size = FileKind.Stat(path).Size;
            if (size <= MaxKeptBuffer && buffer.Length < size)
            {
                buffer = new byte[Math.Min(MaxKeptBuffer, Math.Max(size, buffer.Length * 2L))];
            }

            return FileKind.ReadAll(path, maxBytes, buffer);
        }
        catch (FileNotFoundException e)
        {
            throw new ImageDecodeException(path, path.Contains('\uFFFD')
                ? "its name is not valid UTF-8, so it cannot be opened by name; rename the file."
                : "the file does not exist.", e);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new ImageDecodeException(path, "the file does not exist.", e);
        }
        catch (FileTooLargeException e)
        {
            throw new ImageDecodeException(path, string.Create(CultureInfo.InvariantCulture,
                $"the file is {e.Size:N0} bytes, more than the photo size limit of {e.Cap:N0} bytes ({e.Cap / 1024 / 1024} MiB)."), e);
        }
        catch (NotRegularFileException e)
        {
            throw new ImageDecodeException(path, $"it is {FileIdentity.Describe(e.Type)}.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageDecodeException(path, $"the file cannot be read: {e.Message}", e);
        }
    }
}
