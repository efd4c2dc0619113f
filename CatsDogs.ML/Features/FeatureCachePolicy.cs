using CatsDogs.ML.Backbones;
using CatsDogs.ML.Imaging;

namespace CatsDogs.ML.Features;

/// <summary>
/// Which (backbone, view) outputs of a photo are in the feature cache: reads the ones present, stores the ones
/// computed. The identity of each slot (everything its key holds but the photo, <see cref="FeatureCacheKey.Identity"/>)
/// is computed once here; without a cache every slot is missing and nothing is stored.
/// </summary>
internal sealed class FeatureCachePolicy
{
    private readonly FeatureCache? _cache;
    private readonly string[][] _identities; // [backbone][view]

    public FeatureCachePolicy(BackboneSet backbones, IReadOnlyList<ImageView> views, BackboneOutput output, FeatureCache? cache)
    {
        _cache = cache;
        _identities = Enumerable.Range(0, backbones.Count)
            .Select(b => views.Select(v => FeatureCacheKey.Identity(backbones.At(b, v.InputSize), v, output)).ToArray()).ToArray();
        Slots = Enumerable.Range(0, backbones.Count).SelectMany(b => Enumerable.Range(0, views.Count).Select(v => new ViewSlot(b, v))).ToArray();
        IdentityHash = PhotoSource.Sha256(System.Text.Encoding.UTF8.GetBytes(string.Join("\n--\n", Slots.Select(Identity))));
    }

    /// <summary>Whether there is a cache to read and fill.</summary>
    public bool Enabled => _cache is not null;

    /// <summary>Every slot, backbone by backbone and, within one, in view order.</summary>
    public IReadOnlyList<ViewSlot> Slots { get; }

    /// <summary>A digest of every slot's identity: equal on two machines when their backbone files, specs and views are.</summary>
    public string IdentityHash { get; }

    /// <summary>
    /// Reads every cached slot of the photo into <paramref name="outputs"/> ([backbone][view]) and returns the slots
    /// still to compute: all of them without a cache or a key.
    /// </summary>
    public IReadOnlyList<ViewSlot> ReadCached(PhotoKey? key, float[][][] outputs)
    {
        if (_cache is null || key is not { } photo)
        {
            return Slots;
        }

        var missing = new List<ViewSlot>();
        foreach (var slot in Slots)
        {
            if (!_cache.TryRead(KeyOf(slot, photo), outputs[slot.Backbone][slot.View]))
            {
                missing.Add(slot);
            }
        }

        return missing;
    }

    /// <summary>Whether every slot of the photo is cached (reading them into <paramref name="outputs"/>, stopping at the first missing).</summary>
    public bool IsComplete(PhotoKey key, float[][][] outputs) =>
        _cache is not null && Slots.All(slot => _cache.TryRead(KeyOf(slot, key), outputs[slot.Backbone][slot.View]));

    /// <summary>Stores the outputs of <paramref name="slots"/> of the photo; nothing without a cache or a key.</summary>
    public void Store(PhotoKey? key, IEnumerable<ViewSlot> slots, float[][][] outputs)
    {
        if (_cache is null || key is not { } photo)
        {
            return;
        }

        foreach (var slot in slots)
        {
            _cache.Write(KeyOf(slot, photo), outputs[slot.Backbone][slot.View]);
        }
    }

    private string Identity(ViewSlot slot) => _identities[slot.Backbone][slot.View];

    private byte[] KeyOf(ViewSlot slot, PhotoKey photo) => FeatureCacheKey.Of(Identity(slot), photo.Sha256, photo.Decoded);
}
