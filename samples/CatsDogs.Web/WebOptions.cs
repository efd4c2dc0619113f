using System.Globalization;

namespace CatsDogs.Web;

/// <summary>The web app's settings, from its command line (<c>--model</c>, <c>--models-dir</c>, …) or configuration.</summary>
public sealed record WebOptions
{
    /// <summary>The model to serve (a bundle saved by <c>catsdogs train</c>).</summary>
    public required string Model { get; init; }

    /// <summary>An extra folder searched first for backbone files.</summary>
    public string? ModelsDirectory { get; init; }

    /// <summary>Largest photo accepted, in bytes (default 20 MB); a larger one is answered 413.</summary>
    public long MaxPhotoBytes { get; init; } = 20_000_000;

    /// <summary>Photos accepted in one request (default 32).</summary>
    public int MaxPhotosPerRequest { get; init; } = 32;

    /// <summary>Requests scored at once (default: the number of cores); more are answered 429 with Retry-After.</summary>
    public int MaxConcurrentRequests { get; init; } = Environment.ProcessorCount;

    /// <summary>Where the backbones run: cpu, cuda or cuda:N.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>A file holding the key the model must be signed with (catsdogs train --sign-key).</summary>
    public string? SignKey { get; init; }

    /// <summary>Reads the options from configuration (the command line's <c>--model</c>, <c>--models-dir</c>, … land there).</summary>
    /// <exception cref="ArgumentException">No model is named, or a number is out of range.</exception>
    public static WebOptions From(IConfiguration configuration)
    {
        var model = configuration["model"];
        if (string.IsNullOrWhiteSpace(model))
        {
            throw new ArgumentException("No model given: start the app with --model model.zip (train one with 'catsdogs train <data-dir> --out model.zip').");
        }

        long Long(string key, long fallback, long min, long max)
        {
            var text = configuration[key];
            if (text is null)
            {
                return fallback;
            }

            return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
                ? value
                : throw new ArgumentException($"--{key} must be a whole number between {min} and {max}; got '{text}'.");
        }

        return new WebOptions
        {
            Model = model,
            ModelsDirectory = configuration["models-dir"],
            MaxPhotoBytes = Long("max-photo-bytes", 20_000_000, 1, 1L << 30),
            MaxPhotosPerRequest = (int)Long("max-photos", 32, 1, 1000),
            MaxConcurrentRequests = (int)Long("max-concurrent", Environment.ProcessorCount, 1, 1024),
            Device = configuration["device"] ?? "cpu",
            SignKey = configuration["sign-key"],
        };
    }
}
