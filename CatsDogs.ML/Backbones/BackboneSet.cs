using System.Collections;
using CatsDogs.ML.Onnx.Quantization;

namespace CatsDogs.ML.Backbones;

/// <summary>
/// The opened backbones of one model, in feature order: the single owner of their ONNX Runtime sessions. Opening is
/// all or nothing (a failure disposes what was opened), and disposing releases every session exactly once.
/// </summary>
internal sealed class BackboneSet : IReadOnlyList<Backbone>, IDisposable
{
    private readonly Backbone[] _backbones;
    private readonly Dictionary<(int Backbone, int Size), Backbone> _resized;
    private bool _disposed;

    private BackboneSet(Backbone[] backbones, Dictionary<(int, int), Backbone> resized)
    {
        _backbones = backbones;
        _resized = resized;
        var offsets = new int[backbones.Length];
        for (var i = 1; i < backbones.Length; i++)
        {
            offsets[i] = offsets[i - 1] + backbones[i - 1].Spec.FeatureDimension;
        }

        Offsets = offsets;
        FeatureDimension = backbones.Sum(b => b.Spec.FeatureDimension);
    }

    /// <inheritdoc />
    public int Count => _backbones.Length;

    /// <inheritdoc />
    public Backbone this[int index] => _backbones[index];

    /// <summary>The specs, in feature order.</summary>
    public IReadOnlyList<BackboneSpec> Specs => _backbones.Select(b => b.Spec).ToArray();

    /// <summary>The model files' SHA-256, in feature order.</summary>
    public IReadOnlyList<string> Hashes => _backbones.Select(b => b.ModelSha256).ToArray();

    /// <summary>Each backbone's int8 calibration, in order; null when they run in float32.</summary>
    public IReadOnlyList<QuantizationCalibration>? Calibrations =>
        _backbones.All(b => b.Calibration is not null) ? _backbones.Select(b => b.Calibration!).ToArray() : null;

    /// <summary>Where each backbone's pooled features start in the concatenated vector.</summary>
    public IReadOnlyList<int> Offsets { get; }

    /// <summary>Length of the concatenated pooled features.</summary>
    public int FeatureDimension { get; }

    /// <summary>The execution provider of each backbone (<c>CPU</c> or <c>CUDA:N</c>), with the reason a requested GPU is not used.</summary>
    public IReadOnlyList<(string Backbone, string Provider, string? Notice)> Providers =>
        _backbones.Select(b => (b.Spec.Name, b.ExecutionProvider, b.ProviderNotice)).ToArray();

    /// <summary>Opens every backbone of <paramref name="specs"/>, in order; nothing stays open when one fails.</summary>
    /// <param name="specs">The backbones, in feature order.</param>
    /// <param name="modelsDirectory">An extra folder searched first for their files.</param>
    /// <param name="expectedSha256">The file hashes a saved model was trained with (one per spec), if any.</param>
    /// <param name="device">Where they run: <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</param>
    /// <param name="withFeatureMaps">Also expose each feature map (for class activation maps; costs memory).</param>
    /// <param name="inputSizes">Other input sizes the views ask for (<see cref="Imaging.ImageView.InputSize"/>): one more session per backbone and size.</param>
    /// <param name="calibrations">One int8 calibration per spec (every session, at every size, runs the quantized graph), or null for float32.</param>
    /// <exception cref="ArgumentException">No backbone, one listed twice, a size a backbone cannot take, or not one calibration per backbone.</exception>
    public static BackboneSet Open(IReadOnlyList<BackboneSpec> specs, string? modelsDirectory, IReadOnlyList<string?>? expectedSha256 = null, string device = "cpu", bool withFeatureMaps = false, IEnumerable<int?>? inputSizes = null, IReadOnlyList<QuantizationCalibration>? calibrations = null)
    {
        if (calibrations is not null && calibrations.Count != specs?.Count)
        {
            throw new ArgumentException($"{calibrations.Count} calibrations for {specs?.Count} backbones; int8 needs one per backbone.");
        }

        ArgumentNullException.ThrowIfNull(specs);
        if (specs.Count == 0)
        {
            throw new ArgumentException("Choose at least one backbone.");
        }

        if (specs.GroupBy(s => s?.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1) is { } duplicate)
        {
            throw new ArgumentException($"Backbone '{duplicate.Key}' is listed more than once.");
        }

        var opened = new List<Backbone>();
        var resized = new Dictionary<(int, int), Backbone>();
        try
        {
            var sizes = (inputSizes ?? []).OfType<int>().Distinct().ToArray();
            for (var i = 0; i < specs.Count; i++)
            {
                opened.Add(Backbone.Open(specs[i], modelsDirectory, expectedSha256?[i], withFeatureMaps, device, calibration: calibrations?[i]));
                foreach (var size in sizes.Where(s => s != specs[i].Preprocessing.Width || s != specs[i].Preprocessing.Height))
                {
                    resized[(i, size)] = Backbone.Open(specs[i], modelsDirectory, expectedSha256?[i], withFeatureMaps, device, size, calibrations?[i]);
                }
            }

            return new BackboneSet(opened.ToArray(), resized);
        }
        catch
        {
            opened.ForEach(b => b.Dispose());
            foreach (var b in resized.Values)
            {
                b.Dispose();
            }

            throw;
        }
    }

    /// <summary>The session that runs backbone <paramref name="index"/> at <paramref name="inputSize"/> (null: its own size).</summary>
    /// <exception cref="InvalidOperationException">The set was not opened with that size.</exception>
    public Backbone At(int index, int? inputSize) =>
        inputSize is not { } size || (size == _backbones[index].Spec.Preprocessing.Width && size == _backbones[index].Spec.Preprocessing.Height)
            ? _backbones[index]
            : _resized.TryGetValue((index, size), out var resized)
                ? resized
                : throw new InvalidOperationException($"Backbone '{_backbones[index].Spec.Name}' was not opened at {size} px.");

    /// <inheritdoc />
    public IEnumerator<Backbone> GetEnumerator() => ((IEnumerable<Backbone>)_backbones).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var backbone in _backbones.Concat(_resized.Values))
        {
            backbone.Dispose();
        }
    }
}
