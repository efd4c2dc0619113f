using CatsDogs.ML.Data;
using CatsDogs.ML.Imaging;
using SkiaSharp;

namespace CatsDogs.ML.Explain;

/// <summary>
/// One backbone's class activation map: on its feature-map grid, each cell's contribution to the head's score
/// (log-odds of dog), i.e. Σ_k w_k·A_k with the head's weights for this backbone's features (feature scaling folded
/// in). Positive cells speak for dog, negative for cat. The mean over the grid is the backbone's share of the score.
/// </summary>
/// <param name="Backbone">The backbone's name.</param>
/// <param name="GridWidth">Columns of the grid.</param>
/// <param name="GridHeight">Rows of the grid.</param>
/// <param name="Values">Row-major, <c>GridWidth × GridHeight</c> values: the mean of the views' maps (mirrored views flipped back; views at another input size, whose grid differs, are left out of this grid).</param>
/// <param name="Contribution">This backbone's share of the score: the mean over the views of each view's grid mean (the grid mean of <see cref="Values"/> when all views share one input size).</param>
public sealed record BackboneHeatmap(string Backbone, int GridWidth, int GridHeight, IReadOnlyList<float> Values, double Contribution);

/// <summary>
/// Why the classifier said what it said about one photo: P(dog), each backbone's class activation map, the combined
/// map in the photo's own pixels (for the predicted class) and an overlay image (JET heatmap over the photo).
/// </summary>
public sealed class Explanation
{
    private readonly byte[] _overlay;

    internal Explanation(ImageEntry image, float dogProbability, double score, double bias, IReadOnlyList<BackboneHeatmap> heatmaps, int width, int height, float[] combined, byte[] overlay)
    {
        Image = image;
        DogProbability = dogProbability;
        Score = score;
        Bias = bias;
        Heatmaps = heatmaps;
        Width = width;
        Height = height;
        Combined = combined;
        _overlay = overlay;
        var peak = 0;
        for (var i = 1; i < combined.Length; i++)
        {
            if (combined[i] > combined[peak])
            {
                peak = i;
            }
        }

        Peak = (peak % width, peak / width);
    }

    /// <summary>The photo.</summary>
    public ImageEntry Image { get; }

    /// <summary>P(dog), exactly as <see cref="CatsDogsClassifier.Predict(string)"/> gives it.</summary>
    public float DogProbability { get; }

    /// <summary>Cat or dog, whichever is more likely.</summary>
    public PetLabel PredictedLabel => DogProbability >= 0.5f ? PetLabel.Dog : PetLabel.Cat;

    /// <summary>The head's score (log-odds of dog before calibration) = <see cref="Bias"/> + Σ contributions of the heatmaps.</summary>
    public double Score { get; }

    /// <summary>The part of the score that does not depend on the photo.</summary>
    public double Bias { get; }

    /// <summary>One class activation map per backbone, in the model's backbone order.</summary>
    public IReadOnlyList<BackboneHeatmap> Heatmaps { get; }

    /// <summary>
    /// Width of the overlay and of <see cref="Combined"/>, in the photo's pixels as decoded: the photo's own width,
    /// except for a JPEG more than twice the networks' input size on its short side, which is decoded (for scoring and
    /// explaining alike) at the 1/2, 1/4 or 1/8 scale that still covers the input.
    /// </summary>
    public int Width { get; }

    /// <summary>Height of the overlay and of <see cref="Combined"/> (see <see cref="Width"/>).</summary>
    public int Height { get; }

    /// <summary>
    /// The backbones' maps summed and upsampled (bilinear) to the photo's pixels, signed for the predicted class
    /// (positive = evidence for it); row-major, <see cref="Width"/> × <see cref="Height"/>.
    /// </summary>
    public IReadOnlyList<float> Combined { get; }

    /// <summary>Where <see cref="Combined"/> is largest, in the photo's pixels.</summary>
    public (int X, int Y) Peak { get; }

    /// <summary>The overlay (photo × 0.8 + JET heatmap × 0.4 where the normalised map exceeds 0.2) as RGBA bytes.</summary>
    public ReadOnlySpan<byte> OverlayRgba => _overlay;

    /// <summary>Encodes the overlay as PNG.</summary>
    public byte[] OverlayPng() => RgbaPixels.Encode(_overlay, Width, Height, SKEncodedImageFormat.Png);

    /// <summary>Writes the overlay as a PNG file (through a temporary file; a failure leaves a previous file intact).</summary>
    public void SaveOverlayPng(string path) => OutputFile.WriteBytes(path, OverlayPng());
}
