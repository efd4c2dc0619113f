using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using RabbitMQ.Client;

namespace CatsDogs.ML.RabbitMQ;

/// <summary>What a job asks of workers.</summary>
public enum JobKind
{
    /// <summary>P(dog) of each photo with a saved model.</summary>
    Score,

    /// <summary>The pooled features of each photo, per backbone and view, to fill a trainer's feature cache.</summary>
    Features,
}

/// <summary>
/// One photo of a job. It travels as JSON in the <see cref="Messages.OrderHeader"/> header; the body is empty (the
/// photo is at <see cref="Path"/>, on storage every worker sees) or the photo's bytes (<see cref="Inline"/>).
/// </summary>
/// <param name="Job">The job.</param>
/// <param name="Id">Its position in the job, 0-based, in listing order.</param>
/// <param name="Path">The photo's full path as listed.</param>
/// <param name="Inline">Whether the body holds the photo's bytes.</param>
/// <param name="Kind">Score or features.</param>
/// <param name="Target">The model's SHA-256 (score) or the feature identity (features) the work is for.</param>
internal sealed record WorkOrder(string Job, long Id, string Path, bool Inline, JobKind Kind, string Target)
{
    /// <summary>
    /// The folders the job scattered (path orders): a worker without <c>--allow</c> reads a path only when it lies in
    /// one of them once links are resolved (<see cref="PathPolicy"/>).
    /// </summary>
    public IReadOnlyList<string>? Roots { get; init; }
}

/// <summary>A worker's answer for one photo: P(dog), its features, or why the photo cannot be used.</summary>
/// <param name="Job">The job.</param>
/// <param name="Id">The photo's position in the job.</param>
/// <param name="Path">The photo's path.</param>
/// <param name="Target">The model SHA-256 or feature identity the worker ran: gather refuses results of another.</param>
/// <param name="Worker">Which worker (host/process).</param>
internal sealed record WorkResult(string Job, long Id, string Path, string Target, string Worker)
{
    /// <summary>P(dog) (score jobs).</summary>
    public float? DogProbability { get; init; }

    /// <summary>Why the photo cannot be used, in the library's words (the same as <c>predict</c> reports).</summary>
    public string? Error { get; init; }

    /// <summary>The photo's SHA-256 (feature jobs: part of the cache key).</summary>
    public string? ImageSha256 { get; init; }

    /// <summary>The size the photo decodes at, width and height (feature jobs: part of the cache key).</summary>
    public int[]? Decoded { get; init; }

    /// <summary>Each backbone's output for each view as little-endian floats, [backbone][view] (feature jobs).</summary>
    public byte[][][]? Features { get; init; }
}

/// <summary>What a job is: published by scatter after its last photo, read by gather.</summary>
/// <param name="Job">The job.</param>
/// <param name="Kind">Score or features.</param>
/// <param name="Total">Photos listed (ids 0 … Total − 1).</param>
/// <param name="Target">The model SHA-256 or feature identity every result must carry.</param>
/// <param name="Skipped">Photos scatter could not send (e.g. larger than the inline limit), with reasons.</param>
internal sealed record JobManifest(string Job, JobKind Kind, long Total, string Target, IReadOnlyList<SkippedAtScatter> Skipped);

/// <summary>A photo scatter could not send.</summary>
internal sealed record SkippedAtScatter(long Id, string Path, string Reason);

/// <summary>How the records travel: JSON, message properties and headers.</summary>
internal static class Messages
{
    /// <summary>The header that holds a <see cref="WorkOrder"/> as JSON.</summary>
    public const string OrderHeader = "catsdogs-order";

    /// <summary>
    /// The largest message body scatter sends and workers accept: the client's default frame limit for a body
    /// (64 MiB). Workers raise their own receiving limit to the broker's maximum, so that a larger message reaches them
    /// and is dead-lettered with its reason instead of dropping their connection.
    /// </summary>
    public const int MaxBodyBytes = BrokerOptions.MaxMessageBodyBytes;

    /// <summary>Largest order header; a path order's header is a few hundred bytes.</summary>
    public const int MaxOrderBytes = 64 << 10;

    /// <summary>Most photos in one job (ids 0 … this − 1): far more than one gather's memory holds (docs/broker.md, "Big jobs").</summary>
    public const long MaxPhotos = 100_000_000;

    /// <summary>Most folders one job's orders name.</summary>
    public const int MaxRoots = 16;

    private const int MaxPathChars = 4096;

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
    };

    public static byte[] Bytes<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, Options);

    /// <exception cref="JsonException">Not the JSON of a <typeparamref name="T"/>.</exception>
    public static T Read<T>(ReadOnlySpan<byte> bytes) => JsonSerializer.Deserialize<T>(bytes, Options) ?? throw new JsonException("the message is JSON null");

    /// <summary>Persistent (written to disk by the broker), with an id naming the job and photo.</summary>
    public static BasicProperties Persistent(string job, long id, string contentType) => new()
    {
        Persistent = true,
        MessageId = $"{job}/{id}",
        ContentType = contentType,
        Timestamp = new AmqpTimestamp(DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
    };

    /// <summary>The order in a delivery's headers, every field checked (a worker trusts nothing a message says).</summary>
    /// <exception cref="FormatException">The header is missing, not a work order, or a field is out of range; the message says which, quoting at most 80 characters.</exception>
    public static WorkOrder Order(IReadOnlyBasicProperties properties)
    {
        if (properties.Headers?.TryGetValue(OrderHeader, out var value) != true || value is not byte[] json)
        {
            throw new FormatException($"the message has no '{OrderHeader}' header");
        }

        if (json.Length > MaxOrderBytes)
        {
            throw new FormatException($"its '{OrderHeader}' header is {json.Length:N0} bytes, over the {MaxOrderBytes:N0} an order needs");
        }

        WorkOrder order;
        try
        {
            order = Read<WorkOrder>(json);
        }
        catch (JsonException e)
        {
            throw new FormatException($"the '{OrderHeader}' header is not a work order: {Quote(e.Message)}", e);
        }

        return Check(order);
    }

    /// <summary>An order whose every field is in range.</summary>
    /// <exception cref="FormatException">Which field is not, and why.</exception>
    public static WorkOrder Check(WorkOrder order)
    {
        if (order.Job is null || !IsJobName(order.Job))
        {
            throw new FormatException($"its job name {Quote(order.Job)} is not 1–64 ASCII letters, digits, '-' or '_'");
        }

        if (order.Id is < 0 or >= MaxPhotos)
        {
            throw new FormatException($"its photo id {order.Id} is outside 0 … {MaxPhotos - 1:N0}");
        }

        if (!Enum.IsDefined(order.Kind))
        {
            throw new FormatException($"its kind {(int)order.Kind} is neither score nor features");
        }

        if (order.Target is null || !IsSha256(order.Target))
        {
            throw new FormatException($"its target {Quote(order.Target)} is not a SHA-256 in 64 lowercase hex digits");
        }

        if (!IsFullPath(order.Path))
        {
            throw new FormatException($"its path {Quote(order.Path)} is not a full path of at most {MaxPathChars} characters");
        }

        if (!order.Inline && (order.Roots is not { Count: > 0 and <= MaxRoots } roots || !roots.All(IsFullPath)))
        {
            throw new FormatException($"it is a path order without 1–{MaxRoots} full folder paths (roots) naming the folders its job scattered");
        }

        return order;
    }

    /// <summary>A job name usable in queue names and routing keys: 1–64 ASCII letters, digits, '-' or '_'.</summary>
    public static bool IsJobName(string job) => job.Length is > 0 and <= 64 && job.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    /// <summary>Whether a text is a SHA-256 as the package writes them (64 lowercase hex digits).</summary>
    public static bool IsSha256(string text) => text.Length == 64 && text.All(char.IsAsciiHexDigitLower);

    /// <summary>At most <paramref name="max"/> characters of a text from a message, quoted, with control characters escaped: safe in a log line.</summary>
    public static string Quote(string? text, int max = 80) => text is null ? "(none)"
        : "'" + string.Concat(text.Take(max).Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString())) + (text.Length > max ? $"…' ({text.Length:N0} characters)" : "'");

    private static bool IsFullPath(string? path) => path is { Length: > 0 and <= MaxPathChars } && !path.Contains('\0') && System.IO.Path.IsPathFullyQualified(path);

    /// <summary>The job and photo id of a message, from its order or else its message id ("job/id").</summary>
    public static (string Job, long Id, string? Path)? Identify(IReadOnlyBasicProperties properties)
    {
        try
        {
            var order = Order(properties);
            return (order.Job, order.Id, order.Path);
        }
        catch (FormatException)
        {
            var parts = properties.MessageId?.Split('/');
            return parts is [var job, var id] && long.TryParse(id, out var n) ? (job, n, null) : null;
        }
    }

    /// <summary>A header's text (the client returns AMQP strings as bytes).</summary>
    public static string? Text(IReadOnlyBasicProperties properties, string header) =>
        properties.Headers?.TryGetValue(header, out var value) == true ? value switch
        {
            byte[] bytes => Encoding.UTF8.GetString(bytes),
            null => null,
            _ => value.ToString(),
        } : null;

    /// <summary>Floats as little-endian bytes (exact, and a third of their JSON text).</summary>
    public static byte[] Pack(ReadOnlySpan<float> values) => BitConverter.IsLittleEndian
        ? MemoryMarshal.AsBytes(values).ToArray()
        : throw new PlatformNotSupportedException("Feature messages are little-endian.");

    /// <summary>The inverse of <see cref="Pack"/>.</summary>
    public static float[] Unpack(byte[] bytes) => bytes.Length % sizeof(float) == 0
        ? MemoryMarshal.Cast<byte, float>(bytes).ToArray()
        : throw new FormatException($"{bytes.Length} bytes are not a whole number of floats");
}
