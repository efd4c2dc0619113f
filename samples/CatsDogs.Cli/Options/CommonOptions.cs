using System.CommandLine;
using CatsDogs.ML.Data;

namespace CatsDogs.Cli.Options;

/// <summary>Options several commands share, defined once.</summary>
internal static class CommonOptions
{
    public static Option<string?> ModelsDir() => new("--models-dir")
    {
        Description = "Extra folder searched first for backbone ONNX files (also $CATSDOGS_MODELS_DIR).",
    };

    public static Option<string?> Cache() => new("--cache")
    {
        Description = "Feature cache folder (default: $CATSDOGS_CACHE_DIR, else $XDG_CACHE_HOME/catsdogs/features, else ~/.cache/catsdogs/features).",
    };

    public static Option<bool> NoCache() => new("--no-cache") { Description = "Neither read nor write the feature cache." };

    public static Option<string> Device() => new("--device")
    {
        Description = "Where the backbones run: cpu, cuda or cuda:N (needs Microsoft.ML.OnnxRuntime.Gpu; falls back to CPU with a notice).",
        DefaultValueFactory = _ => "cpu",
    };

    public static Option<string?> Catalog() => new("--catalog")
    {
        Description = "A JSON file of your own backbone specs (the format of models/backbones.json), added to the built-in catalogue.",
    };

    public static Option<string?> SignKey() => new("--sign-key")
    {
        Description = "A file holding a secret key: 'train' signs the model with it (HMAC-SHA256), other commands load only models signed with it.",
    };

    /// <summary>The key bytes of a --sign-key file (read by <see cref="SigningKeyFile"/>: regular files of 16 B to 4 KiB only), or null.</summary>
    /// <exception cref="ArgumentException">The file is missing, special, too short or too long; the message names it.</exception>
    public static byte[]? ReadKey(string? file) => file is null ? null : SigningKeyFile.Read(file);
}
