using System.Globalization;

namespace CatsDogs.ML.Data;

/// <summary>
/// Reads the secret key that signs models (<see cref="ModelLoadOptions.SigningKey"/>, the hosts' <c>--sign-key</c>)
/// under the rules photos and models follow: a regular file only, opened without blocking (a FIFO, socket or device
/// such as <c>/dev/zero</c> is refused at once), its size checked before reading, and every refusal one line that
/// names the file.
/// </summary>
public static class SigningKeyFile
{
    /// <summary>The smallest key accepted: 16 bytes (128 bits).</summary>
    public const int MinBytes = 16;

    /// <summary>
    /// The largest key file accepted: 4 KiB. HMAC-SHA256 hashes a key longer than its 64-byte block down to 32 bytes,
    /// so nothing past 64 bytes adds strength; 4 KiB leaves room for keys written as text (hex, base64, a trailing
    /// newline) and refuses what is surely the wrong file (a photo, a model, a device) before it is read.
    /// </summary>
    public const int MaxBytes = 4096;

    /// <summary>The key bytes in <paramref name="path"/>, exactly as stored.</summary>
    /// <exception cref="ArgumentException">
    /// The file is missing, not a regular file, unreadable, shorter than <see cref="MinBytes"/> or longer than
    /// <see cref="MaxBytes"/>; the message names the file and says which.
    /// </exception>
    public static byte[] Read(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        byte[] key;
        try
        {
            key = FileKind.ReadAll(full, MaxBytes).ToArray();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ArgumentException($"Key file '{full}' does not exist.", e);
        }
        catch (FileTooLargeException e)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"Key file '{full}' is {e.Size:N0} bytes, more than the key size limit of {e.Cap:N0} bytes; is it the right file? A key is {MinBytes} to {MaxBytes:N0} random bytes."), e);
        }
        catch (NotRegularFileException e)
        {
            throw new ArgumentException($"Key file '{full}' is {FileIdentity.Describe(e.Type)}; give a regular file holding the key.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"Key file '{full}' cannot be read: {e.Message}.", e);
        }

        return key.Length >= MinBytes ? key : throw new ArgumentException(
            $"Key file '{full}' holds {key.Length} bytes; use at least {MinBytes} random bytes (e.g. head -c 32 /dev/urandom > key).");
    }
}
