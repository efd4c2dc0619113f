using System.Globalization;

namespace CatsDogs.ML.Imaging;

/// <summary>How a view frames the photo before it is resized to a backbone's input.</summary>
public enum ViewFraming
{
    /// <summary>
    /// The backbone's own framing, as its spec's <see cref="ImagePreprocessing.Resize"/> says (the built-in specs are in
    /// <see cref="Backbones.KnownBackbones"/>).
    /// </summary>
    Native,

    /// <summary>The whole photo squashed to the input size (aspect ratio not kept).</summary>
    Squash,

    /// <summary>A centred crop whose short side is <see cref="ImageView.CropFraction"/> of the photo's short side, aspect ratio kept.</summary>
    CenterCrop,
}

/// <summary>
/// One way of showing a photo to the backbones (test-time augmentation): a framing, optionally mirrored left to right,
/// optionally at a larger input size. A model's views are recorded in its saved bundle; each backbone's features are
/// averaged over them, in order. The text form (<see cref="ToString"/>, <see cref="Parse"/>) is <c>native</c>,
/// <c>squash</c> or <c>crop0.875</c>, with <c>+mirror</c> for a mirrored view and <c>@288</c> for another input size.
/// </summary>
/// <param name="Framing">Which part of the photo the view shows.</param>
/// <param name="CropFraction">For <see cref="ViewFraming.CenterCrop"/>: the share of the short side kept, in (0, 1].</param>
/// <param name="Mirrored">Whether the rendered view is flipped left to right.</param>
/// <param name="InputSize">
/// The side, in pixels, of the (square) network input this view is rendered at; <c>null</c> for each backbone's own
/// size. Only backbones whose graph pools globally can take another size (<c>BackboneSpec.ScalableInput</c>).
/// </param>
public sealed record ImageView(ViewFraming Framing = ViewFraming.Native, double CropFraction = 1, bool Mirrored = false, int? InputSize = null)
{
    /// <summary>Smallest and largest <see cref="InputSize"/> accepted.</summary>
    public const int MinInputSize = 32, MaxInputSize = 1024;

    /// <summary>The backbone's own framing.</summary>
    public static ImageView Native { get; } = new();

    /// <summary>The backbone's own framing, mirrored.</summary>
    public static ImageView NativeMirrored { get; } = new(Mirrored: true);

    /// <summary>The photo and its mirror image, each in the backbone's own framing: the <see cref="Defaults"/>.</summary>
    public static IReadOnlyList<ImageView> NativeAndMirror { get; } = [Native, NativeMirrored];

    /// <summary>
    /// The views of a model trained with the defaults: <see cref="NativeAndMirror"/>, the photo and its mirror image in
    /// each backbone's own framing (<c>native,native+mirror</c>), two backbone runs a photo. Chosen by the unseen-photo
    /// log loss (every photo scored by a head that never saw it, the Kaggle folder and other-pets weighing half each)
    /// as the cheapest view set within 0.002 of the best, for ResNet18 and for the four real backbones fused
    /// (docs/results.md, issue 23). A saved model keeps the views it was trained with.
    /// </summary>
    public static IReadOnlyList<ImageView> Defaults => NativeAndMirror;

    /// <summary>The same framing, not mirrored (the view that is rendered; a mirrored view flips its pixels).</summary>
    public ImageView Unmirrored => this with { Mirrored = false };

    /// <summary>The input this view renders for a backbone whose own input is <paramref name="input"/>.</summary>
    public ImagePreprocessing InputFor(ImagePreprocessing input) =>
        InputSize is { } size && (size != input.Width || size != input.Height) ? input with { Width = size, Height = size } : input;

    /// <summary>Checks the view; the message says what is wrong.</summary>
    /// <exception cref="ArgumentException">The crop fraction is outside (0, 1] or set on another framing.</exception>
    public ImageView Validate()
    {
        if (!Enum.IsDefined(Framing) || (Framing == ViewFraming.CenterCrop ? !(CropFraction > 0 && CropFraction <= 1) : CropFraction != 1))
        {
            throw new ArgumentException($"View '{this}' is invalid: a centre crop keeps a fraction in (0, 1] of the short side; other framings keep the whole photo.");
        }

        if (InputSize is < MinInputSize or > MaxInputSize)
        {
            throw new ArgumentException($"View '{this}' is invalid: its input size must be between {MinInputSize} and {MaxInputSize} pixels.");
        }

        return this;
    }

    /// <summary>The text form, e.g. <c>crop0.875+mirror</c>; also part of the feature-cache key.</summary>
    public override string ToString() => (Framing switch
    {
        ViewFraming.Native => "native",
        ViewFraming.Squash => "squash",
        _ => "crop" + CropFraction.ToString("0.####", CultureInfo.InvariantCulture),
    }) + (Mirrored ? "+mirror" : "") + (InputSize is { } size ? "@" + size.ToString(CultureInfo.InvariantCulture) : "");

    /// <summary>
    /// Reads one view: <c>native</c>, <c>squash</c>, <c>crop0.875</c> (or <c>crop</c> for the whole short side), each
    /// with an optional <c>+mirror</c> and an optional <c>@size</c>.
    /// </summary>
    /// <exception cref="ArgumentException">Not a view.</exception>
    public static ImageView Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim().ToLowerInvariant();
        int? size = null;
        if (t.IndexOf('@') is var at and >= 0)
        {
            size = int.TryParse(t.AsSpan(at + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : throw new ArgumentException($"'{text}' is not a view: after '@' comes an input size in pixels, e.g. native@288.");
            t = t[..at];
        }

        var mirrored = t.EndsWith("+mirror", StringComparison.Ordinal);
        var framing = mirrored ? t[..^"+mirror".Length] : t;
        ImageView? view = framing switch
        {
            "native" => new ImageView(Mirrored: mirrored),
            "squash" => new ImageView(ViewFraming.Squash, Mirrored: mirrored),
            "crop" => new ImageView(ViewFraming.CenterCrop, 1, mirrored),
            _ when framing.StartsWith("crop", StringComparison.Ordinal)
                && double.TryParse(framing.AsSpan(4), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var f) => new ImageView(ViewFraming.CenterCrop, f, mirrored),
            _ => null,
        };
        return ((view ?? throw new ArgumentException($"'{text}' is not a view: use native, squash or cropF (F in (0, 1], e.g. crop0.875), each optionally with +mirror and @size.")) with { InputSize = size }).Validate();
    }

    /// <summary>Reads a comma-separated list such as <c>native,native+mirror</c>.</summary>
    /// <exception cref="ArgumentException">A part is not a view, a view repeats, or the list is empty.</exception>
    public static IReadOnlyList<ImageView> ParseList(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var views = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Parse).ToArray();
        return CheckList(views);
    }

    /// <summary>Checks a list of views: at least one, each valid, none repeated.</summary>
    /// <exception cref="ArgumentException">The list is empty, a view is invalid or repeated.</exception>
    public static IReadOnlyList<ImageView> CheckList(IReadOnlyList<ImageView> views)
    {
        ArgumentNullException.ThrowIfNull(views);
        if (views.Count == 0)
        {
            throw new ArgumentException("Give at least one view, e.g. native,native+mirror.");
        }

        foreach (var view in views)
        {
            (view ?? throw new ArgumentException("A view is missing (null).")).Validate();
        }

        if (views.GroupBy(v => v).FirstOrDefault(g => g.Count() > 1) is { } repeated)
        {
            throw new ArgumentException($"View '{repeated.Key}' is listed more than once.");
        }

        return views;
    }
}
