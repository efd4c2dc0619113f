namespace CatsDogs.ML.Imaging;

/// <summary>Per-worker buffers for decoding and rendering, reused photo after photo (never shared between threads).</summary>
internal sealed class RenderScratch
{
    private readonly Dictionary<RenderKey, byte[]> _buffers = new();

    /// <summary>Where decoded pixels go.</summary>
    public PixelBuffer Decoded { get; } = new();

    /// <summary>The RGBA buffer of one rendering, kept for the next photo.</summary>
    public byte[] Buffer(RenderKey key)
    {
        if (!_buffers.TryGetValue(key, out var buffer))
        {
            buffer = new byte[key.Width * key.Height * 4];
            _buffers[key] = buffer;
        }

        return buffer;
    }
}

/// <summary>One rendering of a photo: its size, the resolved framing and whether it is mirrored.</summary>
internal readonly record struct RenderKey(int Width, int Height, ViewFraming Framing, double CropFraction, bool Mirrored);

/// <summary>
/// One photo, decoded once, and the views rendered from it: each distinct (size, framing) is rendered once, and a
/// mirrored view is the left-right flip of its rendered pixels. The single place where a photo becomes the pixels
/// a backbone sees, for scoring, explaining and auditing alike.
/// </summary>
internal sealed class PhotoViews : IDisposable
{
    private readonly RenderScratch _scratch;
    private readonly HashSet<RenderKey> _rendered = new();

    private PhotoViews(DecodedImage image, RenderScratch scratch)
    {
        Image = image;
        _scratch = scratch;
    }

    /// <summary>The decoded photo (its pixels live in the scratch's buffer until disposed).</summary>
    public DecodedImage Image { get; }

    /// <summary>Decodes <paramref name="bytes"/> at the smallest scale whose short side covers <paramref name="minSize"/>.</summary>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    public static PhotoViews Decode(ReadOnlySpan<byte> bytes, string source, int minSize, RenderScratch scratch) =>
        new(ImageDecoder.Decode(bytes, source, minSize, scratch.Decoded), scratch);

    /// <summary>
    /// The smallest decoded short side that serves every view of every input without upscaling a crop: the largest
    /// input side divided by the smallest crop fraction. A model decodes every photo at this one size, so a view's
    /// pixels never depend on which other views or backbones were computed in the same pass.
    /// </summary>
    public static int MinDecodeSize(IEnumerable<ImagePreprocessing> inputs, IReadOnlyList<ImageView> views) =>
        (int)Math.Ceiling(inputs.SelectMany(i => views.Select(v =>
        {
            var input = v.InputFor(i);
            return Math.Max(input.Width, input.Height) / (v.Framing == ViewFraming.CenterCrop ? v.CropFraction : 1);
        })).Max());

    /// <summary>The framing a view resolves to for an input: <see cref="ViewFraming.Native"/> becomes the input's own policy.</summary>
    public static (ViewFraming Framing, double CropFraction) Resolve(ImagePreprocessing input, ImageView view) => view.Framing switch
    {
        ViewFraming.Native => input.Resize == ResizePolicy.Stretch ? (ViewFraming.Squash, 1) : (ViewFraming.CenterCrop, 1),
        _ => (view.Framing, view.CropFraction),
    };

    /// <summary>Where the (unmirrored) view puts the photo's decoded pixels, for a backbone whose own input is <paramref name="input"/>.</summary>
    public ViewPlacement Placement(ImagePreprocessing input, ImageView view)
    {
        input = view.InputFor(input);
        var (framing, fraction) = Resolve(input, view);
        return Image.Place(input.Width, input.Height, framing, fraction);
    }

    /// <summary>
    /// The view's RGBA pixels for a backbone whose own input is <paramref name="input"/>, at the view's input size (a
    /// scratch buffer, valid until the next photo).
    /// </summary>
    public byte[] Render(ImagePreprocessing input, ImageView view)
    {
        input = view.InputFor(input);
        var (framing, fraction) = Resolve(input, view);
        var key = new RenderKey(input.Width, input.Height, framing, fraction, view.Mirrored);
        var pixels = _scratch.Buffer(key);
        if (!_rendered.Add(key))
        {
            return pixels;
        }

        if (view.Mirrored)
        {
            RgbaPixels.Mirror(Render(input, view.Unmirrored), pixels, input.Width);
        }
        else
        {
            Image.RenderTo(input.Width, input.Height, Image.Place(input.Width, input.Height, framing, fraction), pixels);
        }

        return pixels;
    }

    /// <inheritdoc />
    public void Dispose() => Image.Dispose();
}
