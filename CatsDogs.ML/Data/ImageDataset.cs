using System.Collections;

namespace CatsDogs.ML.Data;

/// <summary>
/// An ordered, immutable list of photos. Load one with <see cref="FromFolder"/> (Kaggle names or class folders,
/// recursively) or <see cref="FromFiles"/>; derive others with <see cref="Split"/>, <see cref="Shuffle"/> and
/// <see cref="Take"/>. Nothing is read or copied until features are extracted.
/// </summary>
public sealed class ImageDataset : IReadOnlyList<ImageEntry>
{
    private readonly ImageEntry[] _entries;

    /// <summary>Wraps entries in the given order.</summary>
    public ImageDataset(IEnumerable<ImageEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        _entries = entries.ToArray();
    }

    /// <inheritdoc />
    public int Count => _entries.Length;

    /// <inheritdoc />
    public ImageEntry this[int index] => _entries[index];

    /// <summary>Number of entries labelled <paramref name="label"/>.</summary>
    public int CountOf(PetLabel label) => _entries.Count(e => e.Label == label);

    /// <summary>
    /// Lists the images under <paramref name="directory"/>, recursively, in natural order (<c>2.jpg</c> before
    /// <c>10.jpg</c>). Labels come from Kaggle names (<c>cat.N.jpg</c>, <c>dog.N.jpg</c>) or else from the nearest
    /// enclosing folder named <c>cat</c>, <c>cats</c>, <c>dog</c> or <c>dogs</c> (any case); other photos are
    /// unlabelled, with the id of an <c>N.jpg</c> name. Extensions: .jpg .jpeg .png .bmp .webp .gif (any case).
    /// Hidden files and folders (starting with '.') are ignored; a folder whose name looks like an image is not a file.
    /// Symbolic links to folders are followed once each: a folder reached twice (a link loop, two links to one
    /// folder) is listed once. Folders in <paramref name="excluding"/>, and folders this library wrote overlays or
    /// thumbnails into, are left out, so outputs are never read back as photos.
    /// </summary>
    /// <param name="directory">The folder.</param>
    /// <param name="excluding">Folders to leave out (e.g. an output folder inside the data folder).</param>
    /// <param name="cancellationToken">Stops a long listing.</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    public static ImageDataset FromFolder(string directory, IEnumerable<string>? excluding = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException(
                File.Exists(root)
                    ? $"'{root}' is a file, not a folder of images."
                    : $"Image folder '{root}' does not exist.");
        }

        var entries = PhotoFolder.List(root, excluding?.ToArray() ?? [], cancellationToken)
            .Select(p => Describe(root, p))
            .OrderBy(e => Path.GetRelativePath(root, e.Path), NaturalPathComparer.Instance)
            .ToArray();
        return new ImageDataset(entries);
    }

    /// <summary>Wraps explicit files, reading labels and ids from their names, in the order given.</summary>
    public static ImageDataset FromFiles(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        return new ImageDataset(paths.Select(ImageEntry.FromPath));
    }

    /// <summary>
    /// A stratified split: the same fraction of cats and of dogs goes to validation, chosen by a seeded shuffle,
    /// so the same seed always gives the same split. Both parts keep this dataset's order.
    /// </summary>
    /// <param name="validationFraction">Share of each class held out, in (0, 1).</param>
    /// <param name="seed">Seed of the shuffle.</param>
    /// <exception cref="InvalidOperationException">Some photos are unlabelled.</exception>
    public (ImageDataset Train, ImageDataset Validation) Split(double validationFraction, int seed)
    {
        var held = DataSplit.StratifiedHoldout(_entries.Select(RequireLabel).ToArray(), validationFraction, seed);
        var train = new List<ImageEntry>(Count - held.Count);
        var validation = new List<ImageEntry>(held.Count);
        for (var i = 0; i < _entries.Length; i++)
        {
            (held.Contains(i) ? validation : train).Add(_entries[i]);
        }

        return (new ImageDataset(train), new ImageDataset(validation));
    }

    /// <summary>The same photos in a seeded random order.</summary>
    public ImageDataset Shuffle(int seed)
    {
        var copy = (ImageEntry[])_entries.Clone();
        new Random(seed).Shuffle(copy);
        return new ImageDataset(copy);
    }

    /// <summary>The first <paramref name="count"/> photos (all of them when there are fewer).</summary>
    public ImageDataset Take(int count) => new(_entries.Take(count));

    /// <inheritdoc />
    public IEnumerator<ImageEntry> GetEnumerator() => ((IEnumerable<ImageEntry>)_entries).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private PetLabel RequireLabel(ImageEntry entry) => entry.Label ?? throw new InvalidOperationException(
        $"'{entry.Path}' has no label: name it cat.N.jpg / dog.N.jpg or put it in a cat/ or dog/ folder.");

    private static ImageEntry Describe(string root, string path)
    {
        var entry = ImageEntry.FromPath(path);
        if (entry.Label is not null)
        {
            return entry;
        }

        // The nearest enclosing class folder below the root labels the photo (PetImages/Cat/1.jpg → cat).
        for (var dir = Path.GetDirectoryName(path); dir is not null && dir.Length > root.Length; dir = Path.GetDirectoryName(dir))
        {
            if (FileNaming.LabelFromWord(Path.GetFileName(dir)) is { } label)
            {
                return entry with { Label = label };
            }
        }

        return entry;
    }
}
