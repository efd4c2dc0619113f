using System.Runtime.InteropServices;

namespace CatsDogs.ML.Imaging;

/// <summary>
/// A reusable home for decoded pixels, pinned so that the native decoder can write into it. A worker that decodes a
/// stream of photos into one buffer leaves the native heap alone: decoding each photo into its own native bitmap of a
/// different size made glibc's heap grow with the number of photos (scoring 2,000 photos peaked 100 MiB above 500).
/// Not thread-safe: one per worker, and a decoded image must be done with before the next decode into it.
/// </summary>
internal sealed class PixelBuffer
{
    /// <summary>Largest buffer kept for reuse; a bigger decode (a rare huge photo) gets its own native bitmap.</summary>
    public const int MaxKeptBytes = 16 * 1024 * 1024;

    private byte[] _bytes = [];

    /// <summary>The address of at least <paramref name="length"/> pinned bytes, or <see cref="IntPtr.Zero"/> above <see cref="MaxKeptBytes"/>.</summary>
    public IntPtr Reserve(long length)
    {
        if (length > MaxKeptBytes)
        {
            return IntPtr.Zero;
        }

        if (_bytes.Length < length)
        {
            _bytes = GC.AllocateUninitializedArray<byte>((int)Math.Min(MaxKeptBytes, Math.Max(length, _bytes.Length * 2L)), pinned: true);
        }

        return Marshal.UnsafeAddrOfPinnedArrayElement(_bytes, 0);
    }
}
