using System.Globalization;

namespace CatsDogs.ML.Data;

/// <summary>What a name tells about a photo: Kaggle file names (<c>cat.N.jpg</c>, <c>N.jpg</c>) and class folders.</summary>
internal static class FileNaming
{
    /// <summary>Extensions the library decodes, compared case-insensitively.</summary>
    public static readonly IReadOnlySet<string> ImageExtensions =
        new HashSet<string>([".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif"], StringComparer.OrdinalIgnoreCase);

    public static bool IsImageFile(string path) => ImageExtensions.Contains(Path.GetExtension(path));

    /// <summary>
    /// Reads the label and id from a file name: <c>cat.123.jpg</c> → (Cat, 123), <c>Dog.7.JPG</c> → (Dog, 7),
    /// <c>456.jpg</c> → (null, 456), anything else → (null, null) or (label, null) for <c>cat_x.jpg</c>-like names.
    /// </summary>
    public static (PetLabel? Label, long? Id) Parse(string fileName)
    {
        var stem = Path.GetFileNameWithoutExtension(fileName);
        var dot = stem.IndexOf('.');
        if (dot < 0)
        {
            return (null, ParseId(stem));
        }

        var label = LabelFromWord(stem[..dot]);
        return label is null ? (null, null) : (label, ParseId(stem[(dot + 1)..]));
    }

    /// <summary>Maps a folder or name word to a label: cat, cats, dog, dogs in any case.</summary>
    public static PetLabel? LabelFromWord(string word) => word.ToLowerInvariant() switch
    {
        "cat" or "cats" => PetLabel.Cat,
        "dog" or "dogs" => PetLabel.Dog,
        _ => null,
    };

    private static long? ParseId(string text) =>
        text.Length > 0 && text.All(char.IsAsciiDigit)
        && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id)
            ? id
            : null;
}
