fn main() {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    let n: u64 = line.trim().parse().unwrap();
    if n <= 2 {
        println!("impossible");
    } else {
        println!("{} {}", n - 1, 1);
    }
}
