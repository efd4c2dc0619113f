using System.Security.Cryptography;
using CatsDogs.ML.Data;
using CatsDogs.ML.Imaging;

namespace CatsDogs.ML.Features;

/// <summary>What a photo's cache entries are keyed by besides the backbone and view.</summary>
/// <param name="Sha256">The SHA-256 of the photo's bytes, lower-case hex.</param>
/// <param name="Decoded">The size the photo decodes at (a JPEG may decode at 1/2, 1/4 or 1/8 scale).</param>
internal readonly record struct PhotoKey(string Sha256, (int Width, int Height) Decoded);

/// <summary>
/// Where photos enter the pipeline: a bounded read of the file into a worker's reused buffer, the photo's
/// <see cref="PhotoKey"/> (read from its header, without decoding), and the one decode, into a worker's reused pixel
/// buffer (docs/speed.md: reused buffers keep memory flat under glibc).
/// </summary>
/// <param name="decodeSize">The short side photos are decoded at, at least (<see cref="PhotoViews.MinDecodeSize"/>).</param>
/// <param name="maxPhotoBytes">Largest photo file read.</param>
internal sealed class PhotoSource(int decodeSize, long maxPhotoBytes)
{
    /// <summary>The short side photos are decoded at, at least.</summary>
    public int DecodeSize { get; } = decodeSize;

    /// <summary>Largest photo file read.</summary>
    public long MaxPhotoBytes { get; } = maxPhotoBytes;

    /// <summary>The bytes of the photo at <paramref name="path"/>, in <paramref name="buffer"/> when they fit (<see cref="PhotoFile.Read"/>).</summary>
    /// <exception cref="ImageDecodeException">The file cannot be read; the reason says why.</exception>
    public ReadOnlyMemory<byte> Read(string path, ref byte[] buffer) => PhotoFile.Read(path, MaxPhotoBytes, ref buffer);

    /// <summary>The SHA-256 of encoded bytes, lower-case hex.</summary>
    public static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>The size the bytes decode at, from their header alone; null when the header cannot be read.</summary>
    public (int Width, int Height)? DecodedSize(ReadOnlySpan<byte> bytes) => ImageDecoder.DecodedSize(bytes, DecodeSize);

    /// <summary>The photo's key; null when its header cannot be read (decoding will say why).</summary>
    public PhotoKey? Key(ReadOnlySpan<byte> bytes) => DecodedSize(bytes) is { } size ? new PhotoKey(Sha256(bytes), size) : null;

    /// <summary>Decodes the photo once, into <paramref name="scratch"/>'s buffers; the caller disposes the result.</summary>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    public PhotoViews Decode(ReadOnlySpan<byte> bytes, string source, RenderScratch scratch) => PhotoViews.Decode(bytes, source, DecodeSize, scratch);
}
