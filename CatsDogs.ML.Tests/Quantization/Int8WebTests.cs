using System.Net;
using System.Text.Json;
using CatsDogs.ML.Onnx.Proto;
using CatsDogs.ML.Tests.Web;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.ML.OnnxRuntime;
using Xunit;

namespace CatsDogs.ML.Tests.Quantization;

/// <summary>The web app serving an int8 model: the server scores with the quantized graph and the page gets a QDQ export.</summary>
[Collection("int8 model")]
[Trait("Category", Category.Unit)]
public sealed class Int8WebTests(Int8Model model) : IDisposable
{
    private readonly WebApplicationFactory<Program> _factory = TestWebApp.Serving(model.Int8Path, model.ModelsDirectory);

    [Fact]
    public async Task Int8Model_ServesAQdqModelOnnx_WhoseCamAndPDogAgreeWithTheServersPredict()
    {
        using var client = _factory.CreateClient();
        using var response = await client.GetAsync("/model.onnx");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        var graph = ModelProto.Parser.ParseFrom(bytes).Graph;
        Assert.Contains(graph.Node, n => n.OpType == "QuantizeLinear");
        Assert.Contains(graph.Node, n => n.OpType == "DequantizeLinear");

        // The file the page runs gives the server's P(dog) for the same pre-resized pixels (the rgb224 contract).
        var photo = Path.Combine(model.PhotosDirectory, "dog.4.png");
        using var predict = await client.PostAsync("/api/predict", WebApiTests.Form([("dog.4.png", File.ReadAllBytes(photo))]));
        var server = JsonDocument.Parse(await predict.Content.ReadAsStringAsync()).RootElement.GetProperty("results")[0].GetProperty("dogProbability").GetSingle();
        using (var session = new InferenceSession(bytes))
        {
            Assert.Contains("cam", session.OutputMetadata.Keys);
        }

        var file = Path.Combine(Path.GetDirectoryName(model.Int8Path)!, "served.onnx");
        File.WriteAllBytes(file, bytes);
        var (p, _) = Export.OnnxExportTests.Run(file, Export.OnnxExportTests.ResizedRgb(photo, Int8Model.Spec.Preprocessing), [1, 32, 32, 3], GraphOptimizationLevel.ORT_ENABLE_ALL);
        Assert.Equal(server, p[0], 1e-4f);
    }

    public void Dispose() => _factory.Dispose();
}
