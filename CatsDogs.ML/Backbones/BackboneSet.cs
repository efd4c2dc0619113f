using System.Collections;

namespace CatsDogs.ML.Backbones;

/// <summary>
/// The opened backbones of one model, in feature order: the single owner of their ONNX Runtime sessions. Opening is
/// all or nothing (a failure disposes what was opened), and disposing releases every session exactly once.
/// </summary>
internal sealed class BackboneSet : IReadOnlyList<Backbone>, IDisposable
{
    private readonly Backbone[] _backbones;
    private bool _disposed;

    private BackboneSet(Backbone[] backbones)
    {
        _backbones = backbones;
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
    /// <exception cref="ArgumentException">No backbone, or one listed twice.</exception>
    public static BackboneSet Open(IReadOnlyList<BackboneSpec> specs, string? modelsDirectory, IReadOnlyList<string?>? expectedSha256 = null, string device = "cpu", bool withFeatureMaps = false)
    {
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
        try
        {
            for (var i = 0; i < specs.Count; i++)
            {
                opened.Add(Backbone.Open(specs[i], modelsDirectory, expectedSha256?[i], withFeatureMaps, device));
            }

            return new BackboneSet(opened.ToArray());
        }
        catch
        {
            opened.ForEach(b => b.Dispose());
            throw;
        }
    }

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
        foreach (var backbone in _backbones)
        {
            backbone.Dispose();
        }
    }
}
