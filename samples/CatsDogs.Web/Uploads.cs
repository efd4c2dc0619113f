using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace CatsDogs.Web;

/// <summary>One uploaded photo, held in memory: its sanitised name and bytes (null when it was over the size limit).</summary>
/// <param name="Name">The file name as sent, sanitised (see <see cref="Uploads.SafeName"/>).</param>
/// <param name="Bytes">The photo's bytes, or null when it was larger than the limit (and was not kept).</param>
/// <param name="Length">The photo's size in bytes as received.</param>
public sealed record Upload(string Name, byte[]? Bytes, long Length);

/// <summary>A request that cannot be scored, with the status and the reason the client is told.</summary>
/// <param name="Status">The HTTP status.</param>
/// <param name="Detail">What was wrong, in a sentence.</param>
public sealed record UploadRefusal(int Status, string Detail);

/// <summary>
/// Reads a multipart/form-data upload into memory, part by part, within the app's limits: nothing is written to disk
/// (ASP.NET Core's own form reader spools files over 64 KB to the temp folder), every malformed body is a 400 and every
/// limit a 413 or 408, never an exception. Parts named <c>file</c> with a file name are photos; other parts are skipped.
/// </summary>
public static class Uploads
{
    /// <summary>Longest boundary RFC 2046 allows.</summary>
    public const int MaxBoundaryLength = 70;

    /// <summary>Longest file name echoed back; longer ones are cut.</summary>
    public const int MaxNameLength = 255;

    private const int MaxParts = 1000;

    /// <summary>Reads the photos of <paramref name="request"/>, or says why they cannot be read.</summary>
    public static async Task<(List<Upload>? Photos, UploadRefusal? Refusal)> ReadAsync(HttpRequest request, WebOptions options, CancellationToken token)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type) || !type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            return Refuse(400, "Send the photos as multipart/form-data in fields named 'file'.");
        }

        var boundary = HeaderUtilities.RemoveQuotes(type.Boundary).Value;
        if (string.IsNullOrWhiteSpace(boundary))
        {
            return Refuse(400, "The multipart/form-data content type has no boundary parameter.");
        }

        if (boundary.Length > MaxBoundaryLength)
        {
            return Refuse(400, $"The multipart boundary is {boundary.Length} characters long; at most {MaxBoundaryLength} are allowed.");
        }

        if (request.ContentLength > options.MaxRequestBytes)
        {
            return Refuse(413, TooLarge(options));
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
        deadline.CancelAfter(options.UploadTimeout);
        try
        {
            return await ReadParts(new MultipartReader(boundary, request.Body) { HeadersCountLimit = 16, HeadersLengthLimit = 16 * 1024 }, options, deadline.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !token.IsCancellationRequested)
        {
            return Refuse(408, $"The upload took longer than {options.UploadTimeout.TotalSeconds:0} s; send it again on a faster connection.");
        }
        catch (BadHttpRequestException bad)
        {
            return Refuse(bad.StatusCode, bad.StatusCode switch
            {
                413 => TooLarge(options),
                408 => "The upload was too slow; send it again on a faster connection.",
                _ => $"The request body is malformed: {bad.Message}",
            });
        }
        catch (InvalidDataException data)
        {
            return Refuse(400, $"The multipart body is malformed: {data.Message}");
        }
        catch (IOException) when (!token.IsCancellationRequested)
        {
            // MultipartReader's own words ("… may have already been read by another component") mislead here.
            return Refuse(400, $"The multipart body ends before its closing boundary '--{boundary}--': it is empty, truncated or not multipart/form-data.");
        }
    }

    /// <summary>
    /// A file name fit to echo: the last path segment, control characters and HTML-special characters
    /// (<c>&lt; &gt; &amp; " '</c> and the backtick) replaced by '_', at most <see cref="MaxNameLength"/> characters.
    /// </summary>
    public static string SafeName(string? name)
    {
        var last = (name ?? "").Replace('\\', '/');
        last = last[(last.LastIndexOf('/') + 1)..];
        var safe = new StringBuilder(Math.Min(last.Length, MaxNameLength));
        foreach (var c in last.EnumerateRunes())
        {
            if (safe.Length >= MaxNameLength)
            {
                break;
            }

            safe.Append(Rune.IsControl(c) || c.Value is '<' or '>' or '&' or '"' or '\'' or '`' ? "_" : c.ToString());
        }

        return safe.Length == 0 ? "photo" : safe.ToString();
    }

    private static async Task<(List<Upload>?, UploadRefusal?)> ReadParts(MultipartReader reader, WebOptions options, CancellationToken token)
    {
        var photos = new List<Upload>();
        long total = 0;
        var buffer = new byte[81920];
        for (var part = 1; await reader.ReadNextSectionAsync(token) is { } section; part++)
        {
            if (part > MaxParts)
            {
                return Refuse(413, $"More than {MaxParts} parts in one request.");
            }

            if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition) || !disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase))
            {
                return Refuse(400, $"Part {part} of the upload has a missing or malformed Content-Disposition header (a double quote in a file name must be sent as %22, as browsers do).");
            }

            var isPhoto = disposition.IsFileDisposition() && HeaderUtilities.RemoveQuotes(disposition.Name).Equals("file", StringComparison.Ordinal);
            if (isPhoto && photos.Count == options.MaxPhotosPerRequest)
            {
                return Refuse(413, $"More than {options.MaxPhotosPerRequest} photos in one request.");
            }

            // A photo is kept up to the size limit; beyond it (and for other parts) the bytes are read and dropped.
            var keep = isPhoto ? new MemoryStream() : null;
            long length = 0;
            int read;
            while ((read = await section.Body.ReadAsync(buffer, token)) > 0)
            {
                length += read;
                total += read;
                if (total > options.MaxRequestBytes)
                {
                    return Refuse(413, TooLarge(options));
                }

                if (keep is not null && length <= options.MaxPhotoBytes)
                {
                    keep.Write(buffer, 0, read);
                }
            }

            if (isPhoto)
            {
                var name = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value;
                photos.Add(new Upload(SafeName(name), length <= options.MaxPhotoBytes ? keep!.ToArray() : null, length));
            }
        }

        return (photos, null);
    }

    private static string TooLarge(WebOptions options) =>
        $"The request is larger than the limit of {options.MaxRequestBytes:N0} bytes (at most {options.MaxPhotosPerRequest} photos of {options.MaxPhotoBytes:N0} bytes each).";

    private static (List<Upload>?, UploadRefusal?) Refuse(int status, string detail) => (null, new UploadRefusal(status, detail));
}
