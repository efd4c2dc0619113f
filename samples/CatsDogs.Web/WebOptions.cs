using System.Globalization;

namespace CatsDogs.Web;

/// <summary>One command-line option of the web app: what it parses and what <c>--help</c> prints, from one place.</summary>
/// <param name="Key">The option's name without dashes (also its configuration key).</param>
/// <param name="Value">What its value is, for the help text.</param>
/// <param name="Help">What it does, with its default.</param>
public sealed record WebOption(string Key, string Value, string Help);

/// <summary>The web app's settings, from its command line (<c>--model</c>, <c>--models-dir</c>, …) or configuration.</summary>
public sealed record WebOptions
{
    private const long DefaultMaxPhotoBytes = 20_000_000;
    private const int DefaultMaxPhotos = 32;
    private const long DefaultMaxRequestBytes = 64L * 1024 * 1024;
    private const int DefaultUploadSeconds = 60;
    private const int DefaultMinUploadRate = 4096;
    private const int DefaultQueuePerSlot = 4;
    private const int DefaultQueueSeconds = 10;

    /// <summary>Every option the app reads, in the order <c>--help</c> lists them.</summary>
    public static readonly IReadOnlyList<WebOption> Definitions =
    [
        new("model", "FILE", "the model to serve, a bundle saved by 'catsdogs train' (required)"),
        new("models-dir", "DIR", "an extra folder searched first for backbone files"),
        new("urls", "URLS", "where to listen (default http://127.0.0.1:5080, this machine only)"),
        new("max-photo-bytes", "N", $"largest photo accepted, in bytes; a larger one is answered 413 (default {DefaultMaxPhotoBytes})"),
        new("max-photos", "N", $"photos accepted in one request (default {DefaultMaxPhotos})"),
        new("max-request-bytes", "N", $"largest request body, held in memory while it is scored (default {DefaultMaxRequestBytes})"),
        new("max-concurrent", "N", "requests scored at once (default: the number of cores); a request whose upload has arrived when all are busy waits in the queue"),
        new("max-queued", "N", $"requests waiting for a scoring slot (default {DefaultQueuePerSlot} per slot); past them a request is answered 429 with Retry-After"),
        new("queue-timeout", "SECONDS", $"longest wait for a scoring slot; past it, 429 with Retry-After (default {DefaultQueueSeconds})"),
        new("upload-timeout", "SECONDS", $"time allowed for one request's upload; a slower one is answered 408 (default {DefaultUploadSeconds})"),
        new("min-upload-rate", "BYTES/S", $"slowest upload accepted after a 5 s grace; a slower client is disconnected (default {DefaultMinUploadRate})"),
        new("device", "DEVICE", "where the backbones run: cpu, cuda or cuda:N (default cpu)"),
        new("sign-key", "FILE", "a file holding the key the model must be signed with (catsdogs train --sign-key)"),
    ];

    /// <summary>The model to serve (a bundle saved by <c>catsdogs train</c>).</summary>
    public required string Model { get; init; }

    /// <summary>An extra folder searched first for backbone files.</summary>
    public string? ModelsDirectory { get; init; }

    /// <summary>Largest photo accepted, in bytes (default 20 MB); a larger one is answered 413.</summary>
    public long MaxPhotoBytes { get; init; } = DefaultMaxPhotoBytes;

    /// <summary>Photos accepted in one request (default 32).</summary>
    public int MaxPhotosPerRequest { get; init; } = DefaultMaxPhotos;

    /// <summary>Largest request body in bytes (default 64 MiB); the body is held in memory, never written to disk.</summary>
    public long MaxRequestBytes { get; init; } = DefaultMaxRequestBytes;

    /// <summary>Requests scored at once (default: the number of cores); more wait in a queue of <see cref="MaxQueuedRequests"/>.</summary>
    public int MaxConcurrentRequests { get; init; } = Environment.ProcessorCount;

    /// <summary>Requests that wait for a scoring slot (default 4 per slot); past them a request is answered 429 with Retry-After.</summary>
    public int MaxQueuedRequests { get; init; } = DefaultQueuePerSlot * Environment.ProcessorCount;

    /// <summary>Longest wait for a scoring slot (default 10 s); past it the request is answered 429 with Retry-After.</summary>
    public TimeSpan QueueTimeout { get; init; } = TimeSpan.FromSeconds(DefaultQueueSeconds);

    /// <summary>Time allowed for one request's upload (default 60 s); a slower one is answered 408.</summary>
    public TimeSpan UploadTimeout { get; init; } = TimeSpan.FromSeconds(DefaultUploadSeconds);

    /// <summary>Slowest upload accepted, in bytes per second after a 5 s grace (default 4096); slower clients are disconnected.</summary>
    public int MinUploadBytesPerSecond { get; init; } = DefaultMinUploadRate;

    /// <summary>Where the backbones run: cpu, cuda or cuda:N.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>A file holding the key the model must be signed with (catsdogs train --sign-key).</summary>
    public string? SignKey { get; init; }

    /// <summary>The <c>--help</c> text, from <see cref="Definitions"/>.</summary>
    public static string HelpText()
    {
        var lines = new List<string>
        {
            "catsdogs-web: a page and a JSON API that tell cats from dogs with a trained model.",
            "",
            "usage: CatsDogs.Web --model model.zip [options]",
            "",
            "options:",
        };
        var width = Definitions.Max(o => o.Key.Length + o.Value.Length) + 4;
        lines.AddRange(Definitions.Select(o => $"  --{o.Key} {o.Value}".PadRight(width + 4) + o.Help));
        lines.Add("  --help".PadRight(width + 4) + "print this help and exit");
        return string.Join(Environment.NewLine, lines) + Environment.NewLine;
    }

    /// <summary>Reads the options from configuration (the command line's <c>--model</c>, <c>--models-dir</c>, … land there).</summary>
    /// <exception cref="ArgumentException">No model is named, or a number is out of range.</exception>
    public static WebOptions From(IConfiguration configuration)
    {
        var model = configuration["model"];
        if (string.IsNullOrWhiteSpace(model))
        {
            throw new ArgumentException("No model given: start the app with --model model.zip (train one with 'catsdogs train <data-dir> --out model.zip'); --help lists the options.");
        }

        long Long(string key, long fallback, long min, long max)
        {
            _ = Definitions.Single(o => o.Key == key); // every option read is one --help lists
            var text = configuration[key];
            if (text is null)
            {
                return fallback;
            }

            return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
                ? value
                : throw new ArgumentException($"--{key} must be a whole number between {min} and {max}; got '{text}'.");
        }

        var concurrent = (int)Long("max-concurrent", Environment.ProcessorCount, 1, 1024);
        return new WebOptions
        {
            Model = model,
            ModelsDirectory = configuration["models-dir"],
            MaxPhotoBytes = Long("max-photo-bytes", DefaultMaxPhotoBytes, 1, 1L << 30),
            MaxPhotosPerRequest = (int)Long("max-photos", DefaultMaxPhotos, 1, 1000),
            MaxRequestBytes = Long("max-request-bytes", DefaultMaxRequestBytes, 1024, 1L << 31),
            MaxConcurrentRequests = concurrent,
            MaxQueuedRequests = (int)Long("max-queued", DefaultQueuePerSlot * concurrent, 0, 100_000),
            QueueTimeout = TimeSpan.FromSeconds(Long("queue-timeout", DefaultQueueSeconds, 1, 3600)),
            UploadTimeout = TimeSpan.FromSeconds(Long("upload-timeout", DefaultUploadSeconds, 1, 3600)),
            MinUploadBytesPerSecond = (int)Long("min-upload-rate", DefaultMinUploadRate, 0, 1L << 30),
            Device = configuration["device"] ?? "cpu",
            SignKey = configuration["sign-key"],
        };
    }
}
